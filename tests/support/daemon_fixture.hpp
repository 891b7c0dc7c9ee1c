// The one fixture for suites that run the real `sluice` process (tests/daemon and its service,
// fault and webhooks subfolders, the coordination suites in tests/engine): every test gets its
// own database (or switches to another cluster's), a temp directory for its config, and helpers
// to read what sluice reports (/status, /metrics) and what it committed (sluice.checkpoints,
// read-model tables). Suites that need more (a notify socket, an HTTP receiver, several
// instances, an orders stream) derive from DaemonTest and add only that.
// Positions are engine::Position, compared exactly as sluice compares them.
// Error policy: helpers throw (failing the test) on database or HTTP failures; waits are bounded
// and return whether their condition held.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon_process.hpp"
#include "engine/event_row.hpp"
#include "test_database.hpp"

namespace sluice::testing {

using namespace std::chrono_literals;
using engine::Position;

// One element of /status's subscribers[].
struct SubscriberView {
    std::string name;
    std::string state;
    Position position;
    std::uint64_t events = 0;
    std::uint64_t errors = 0;
    std::uint64_t parked = 0;
    std::int64_t quarantined = 0;  // aggregates held in quarantine
    std::int64_t lag_events = 0;
    double lag_seconds = 0;
    std::string last_error;
    std::string sqlstate;
    std::optional<std::int64_t> failed_event_id;
};

struct StatusView {
    bool ready = false;
    std::string reason;
    std::uint64_t fetches = 0;
    std::uint64_t notify_wakeups = 0;
    std::uint64_t poll_wakeups = 0;
    std::uint64_t held_rechecks = 0;
    std::vector<SubscriberView> subscribers;
    std::vector<std::string> config_errors;

    [[nodiscard]] std::optional<SubscriberView> subscriber(const std::string& name) const;
    [[nodiscard]] std::vector<std::string> names() const;
};

// Parses the /status body; throws on anything that is not the documented shape.
[[nodiscard]] StatusView parse_status(const std::string& body);

// The value of the sample of `name` whose labels include every `labels` text (e.g.
// `name="a"`) in a Prometheus text exposition; nullopt when there is none.
[[nodiscard]] std::optional<double> metric_sample(const std::string& exposition,
                                                  const std::string& name,
                                                  const std::vector<std::string>& labels = {});

// What base_config() writes besides the database URL.
struct ConfigOptions {
    std::string url;  // empty: the fixture's database (url())
    std::string poll_interval = "100ms";
    int batch_size = 1000;
    std::string log_level = "info";
    std::string failover_after;  // non-empty: a `coordination:` section with it
};

class DaemonTest : public ::testing::Test {
  protected:
    // A fresh database (not migrated: `sluice run` migrates; suites that write events before
    // starting it call migrate()) and a temp directory, kept when the test failed.
    void SetUp() override;
    void TearDown() override;

    // Runs the migrations on the fixture's database.
    void migrate() const { db_->migrate(); }
    // Switches the fixture to another cluster's database (e.g. an OwnCluster), migrated with
    // `sluice migrate`; the helpers below read it from then on.
    void use_database(const std::string& url);
    [[nodiscard]] const std::string& url() const { return url_; }
    // The test's own connection, reopened when it was dropped (e.g. around a restart).
    pg::Connection& conn();
    void drop_connection() { conn_.reset(); }

    // `database:`, `tailer:`, `http: {listen: 127.0.0.1:0}`, `log:` and optionally
    // `coordination:` sections; append `projections:` / `webhooks:` text to it.
    [[nodiscard]] std::string base_config(const ConfigOptions& options = {}) const;
    // Writes `text` to <temp dir>/<file_name> and returns the path.
    std::string write_file(const std::string& file_name, const std::string& text) const;

    [[nodiscard]] StatusView status(DaemonProcess& daemon);
    // Waits until the daemon runs and its /status satisfies `condition` (bounded).
    [[nodiscard]] bool wait_status(DaemonProcess& daemon,
                                   const std::function<bool(const StatusView&)>& condition,
                                   std::chrono::milliseconds timeout);
    // Waits until every subscriber in `names` reports "running" in /status (fails the test,
    // returning false, when sluice exits or they do not within 20 s).
    [[nodiscard]] bool wait_running(DaemonProcess& daemon, const std::vector<std::string>& names);
    // For failure messages: whether sluice runs, its /status, the cluster's open transactions
    // (they hold back the visibility horizon) and the tail of its log. Never throws.
    [[nodiscard]] std::string diagnose(DaemonProcess& daemon);

    // The stored checkpoint, or nullopt before the subscriber first ran.
    [[nodiscard]] std::optional<Position> checkpoint(const std::string& name);
    // The last event in commit order (zero when there are none).
    [[nodiscard]] Position head();
    // Waits until the stored checkpoint of `name` is `target`.
    [[nodiscard]] bool wait_checkpoint(const std::string& name, Position target,
                                       std::chrono::milliseconds timeout);
    // One integer from a query that returns one row and one column.
    [[nodiscard]] std::int64_t scalar(const std::string& sql, const pg::Params& params = {});
    // Rows of `sql` that are not in `expected_sql` plus rows of `expected_sql` not in `sql`
    // (symmetric difference, as text); zero when the two queries return the same multiset.
    [[nodiscard]] std::int64_t differences(const std::string& sql, const std::string& expected_sql);

    // Inserts one event in its own transaction; returns its position.
    Position insert_event(const std::string& event_type, const std::string& payload = "{}");
    // Appends `count` events of type `event_type` (one aggregate each, payload {"i": n}) with
    // generate_series, in transactions of `per_transaction` events.
    void bulk_insert(std::int64_t count, const std::string& event_type,
                     std::int64_t per_transaction = 10000);
    // Appends `count` Tick events (aggregate type Test, payload {"n": k, "g": k % 7}, k counting
    // on from the events already there) in one transaction.
    void append_ticks(std::int64_t count);

    std::optional<TestDatabase> db_;
    std::string url_;                     // the database the helpers read: db_'s, or another
    std::optional<pg::Connection> conn_;  // after db_: closed before the database is dropped
    std::string dir_;
};

// The statement that appends Tick events; $1 = first n, $2 = count.
extern const std::string append_ticks_sql;

}  // namespace sluice::testing
