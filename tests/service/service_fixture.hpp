// Shared ground for the service suites (sluice as operators run it: signals, sd_notify, /readyz,
// Prometheus, rebuilds beside a running daemon). Each test gets its own database and temp
// directory; helpers read what sluice reports (/status) and what it committed (checkpoints, read
// models), and an EventWriter appends events from its own thread while the daemon works.
// Events written here are of type `Tick`, aggregate type `Test`, payload {"n": k, "g": k % 7}.
// Error policy: helpers throw (failing the test) on database or HTTP failures; waits are bounded
// and return whether their condition held.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"
#include "test_database.hpp"

namespace sluice::testing {

using namespace std::chrono_literals;

// A position in commit order: (transaction_id, event_id), compared as sluice compares them.
struct CommitPosition {
    std::uint64_t transaction_id = 0;
    std::int64_t event_id = 0;

    auto operator<=>(const CommitPosition&) const = default;
    [[nodiscard]] std::string to_string() const {
        return "(" + std::to_string(transaction_id) + "," + std::to_string(event_id) + ")";
    }
};

// One element of /status's subscribers[].
struct SubscriberReport {
    std::string name;
    std::string state;
    CommitPosition position;
    std::uint64_t events = 0;
    std::uint64_t errors = 0;
};

struct StatusReport {
    bool ready = false;
    std::string reason;
    std::vector<SubscriberReport> subscribers;
    std::vector<std::string> config_errors;

    [[nodiscard]] std::optional<SubscriberReport> subscriber(const std::string& name) const;
    [[nodiscard]] std::vector<std::string> names() const;
};

// Parses a /status body; throws on anything that is not the documented shape.
[[nodiscard]] StatusReport parse_status_report(const std::string& body);

// The value of the sample of `name` whose labels include every `labels` text (e.g.
// `name="a"`) in a Prometheus text exposition; nullopt when there is none.
[[nodiscard]] std::optional<double> metric_sample(const std::string& exposition,
                                                  const std::string& name,
                                                  const std::vector<std::string>& labels = {});

// Appends Tick events continuously (a few per transaction) on its own connection and thread
// until stop() or `limit` events. Pacing keeps the volume moderate; it is load shape, not
// synchronisation.
class EventWriter {
  public:
    EventWriter(std::string url, std::int64_t limit = 200000, int per_transaction = 5);
    EventWriter(const EventWriter&) = delete;
    EventWriter& operator=(const EventWriter&) = delete;
    ~EventWriter();

    // Stops appending and joins the thread; returns the number of events committed.
    std::int64_t stop();
    [[nodiscard]] std::int64_t appended() const { return appended_.load(); }
    // Waits until at least `count` events are committed; false on timeout or writer failure.
    [[nodiscard]] bool wait_appended(std::int64_t count, std::chrono::milliseconds timeout) const;
    // The writer's failure, if it failed (read after stop()).
    [[nodiscard]] const std::string& error() const { return error_; }

  private:
    void run();

    std::string url_;
    std::int64_t limit_;
    int per_transaction_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> failed_{false};
    std::atomic<std::int64_t> appended_{0};
    std::string error_;  // written by the thread, read after join
    // Last: the thread uses everything above.
    std::thread thread_;
};

class ServiceTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    // `database:` (this test's URL unless `url` is given), `tailer:`, `http:` on 127.0.0.1:0
    // and `log:` sections; append `projections:` / `webhooks:` text to it.
    [[nodiscard]] std::string base_config(const std::string& url = "",
                                          const std::string& level = "info",
                                          int batch_size = 1000) const;
    // Writes `text` to <temp dir>/<file_name> and returns the path.
    std::string write_file(const std::string& file_name, const std::string& text) const;

    [[nodiscard]] StatusReport status(DaemonProcess& daemon);
    // Waits until /status satisfies `condition` (bounded).
    [[nodiscard]] bool wait_status(DaemonProcess& daemon,
                                   const std::function<bool(const StatusReport&)>& condition,
                                   std::chrono::milliseconds timeout);
    // Waits until every subscriber in `names` is "running" (fails the test when not in 20 s).
    [[nodiscard]] bool wait_running(DaemonProcess& daemon, const std::vector<std::string>& names);
    // /status, open transactions and the daemon's log tail, for failure messages. Never throws.
    [[nodiscard]] std::string diagnose(DaemonProcess& daemon);

    [[nodiscard]] std::optional<CommitPosition> checkpoint(const std::string& name);
    // The last event in commit order (zero when there are none).
    [[nodiscard]] CommitPosition head();
    [[nodiscard]] bool wait_checkpoint(const std::string& name, CommitPosition target,
                                       std::chrono::milliseconds timeout);
    // One integer from a query returning one row and one column.
    [[nodiscard]] std::int64_t scalar(const std::string& sql, const pg::Params& params = {});
    // Rows of `sql` that are not in `expected_sql` plus rows of `expected_sql` not in `sql`
    // (symmetric difference, as text); zero when the two queries return the same multiset.
    [[nodiscard]] std::int64_t differences(const std::string& sql, const std::string& expected_sql);
    // Appends `count` Tick events in one transaction.
    void append(std::int64_t count);

    std::optional<TestDatabase> db_;
    std::optional<pg::Connection> conn_;  // after db_: closed before the database is dropped
    std::string dir_;
};

}  // namespace sluice::testing
