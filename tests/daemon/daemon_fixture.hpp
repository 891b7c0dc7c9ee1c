// Shared ground for the end-to-end daemon suites: every test gets its own database, a temp
// directory for its config file, and helpers to read what sluice reports (/status) and what it
// committed (sluice.checkpoints, read-model tables). Positions are (transaction_id, event_id) in
// commit order, compared exactly as sluice compares them.
// Error policy: helpers throw (failing the test) on database or HTTP failures; waits are bounded
// and return whether their condition held.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon_process.hpp"
#include "test_database.hpp"

namespace sluice::testing {

using namespace std::chrono_literals;

struct Position {
    std::uint64_t transaction_id = 0;
    std::int64_t event_id = 0;

    auto operator<=>(const Position&) const = default;
    [[nodiscard]] std::string to_string() const {
        return "(" + std::to_string(transaction_id) + "," + std::to_string(event_id) + ")";
    }
};

// One element of /status's subscribers[].
struct SubscriberView {
    std::string name;
    std::string state;
    Position position;
    std::uint64_t events = 0;
    std::uint64_t errors = 0;
    std::uint64_t parked = 0;
    std::string last_error;
    std::string sqlstate;
    std::optional<std::int64_t> failed_event_id;
};

struct StatusView {
    bool ready = false;
    std::uint64_t fetches = 0;
    std::uint64_t notify_wakeups = 0;
    std::uint64_t poll_wakeups = 0;
    std::vector<SubscriberView> subscribers;

    [[nodiscard]] std::optional<SubscriberView> subscriber(const std::string& name) const;
};

// Parses the /status body; throws on anything that is not the documented shape.
[[nodiscard]] StatusView parse_status(const std::string& body);

class DaemonTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    // `database:` (this test's URL), `tailer:` and `http: {listen: 127.0.0.1:0}` sections.
    [[nodiscard]] std::string base_config(const std::string& poll_interval = "100ms",
                                          int batch_size = 1000) const;
    // Writes `text` to <temp dir>/<file_name> and returns the path.
    std::string write_file(const std::string& file_name, const std::string& text) const;
    // Starts `sluice run` on the config and waits until every subscriber in `names` reports
    // "running" in /status (fails the test, returning false, when they do not within 20 s).
    [[nodiscard]] bool wait_running(DaemonProcess& daemon, const std::vector<std::string>& names);

    [[nodiscard]] StatusView status(DaemonProcess& daemon);
    // For failure messages: whether sluice runs, its /status, the cluster's open transactions
    // (they hold back the visibility horizon) and the tail of its log. Never throws.
    [[nodiscard]] std::string diagnose(DaemonProcess& daemon);
    // The stored checkpoint, or nullopt before the subscriber first ran.
    [[nodiscard]] std::optional<Position> checkpoint(const std::string& name);
    // The last event in commit order (zero when there are none).
    [[nodiscard]] Position max_position();
    // Waits until the stored checkpoint of `name` is `target`.
    [[nodiscard]] bool wait_checkpoint(const std::string& name, Position target,
                                       std::chrono::milliseconds timeout);
    // One integer from a query that returns one row and one column.
    [[nodiscard]] std::int64_t scalar(const std::string& sql, const pg::Params& params = {});
    // Inserts one event in its own transaction; returns its position.
    Position insert_event(const std::string& event_type, const std::string& payload = "{}");
    // Appends `count` events of type `event_type` (one aggregate each, payload {"i": n}) with
    // generate_series, in transactions of `per_transaction` events.
    void bulk_insert(std::int64_t count, const std::string& event_type,
                     std::int64_t per_transaction = 10000);

    std::optional<TestDatabase> db_;
    std::optional<pg::Connection> conn_;  // after db_: closed before the database is dropped
    std::string dir_;
};

}  // namespace sluice::testing
