// Shared ground for the high-availability fault suites: one database (a fresh TestDatabase, or
// a cluster of the test's own), an orders-like event stream (bulk-loaded with generate_series,
// then appended live by an OrderWriter), read models that make a lost, repeated or reordered
// application visible, and views of who owns what (sluice.owners, /status, the ownership lines
// of each instance's log).
//
// The read models: `applied` has one row per applied event with an application counter
// (incremented ON CONFLICT, so a second application is counted, not rejected); `per_order`
// counts each order's events and how many arrived out of version order. Exact means: every
// event applied once, none twice, none unknown, every order's count and last version right,
// nothing out of order.
// Error policy: helpers throw (failing the test) on database or HTTP failures; waits are
// bounded and return whether their condition held; expect_* helpers add test failures.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon_fixture.hpp"
#include "daemon_process.hpp"
#include "http_receiver.hpp"
#include "instances.hpp"
#include "test_database.hpp"

namespace sluice::testing::fault {

using namespace std::chrono_literals;

inline const std::string webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// One row of sluice.owners.
struct Owner {
    std::string name;
    std::string instance_id;
    int pid = 0;
    double heartbeat_age_seconds = 0;
};

// What one instance's /status says about itself.
struct InstanceStatus {
    std::string instance;
    std::map<std::string, std::string> subscribers;  // name -> state
};
[[nodiscard]] InstanceStatus parse_instance_status(const std::string& body);

// The `took ownership` / `released ownership` lines of a log, in order.
struct OwnershipChange {
    bool took = false;
    std::string name;
};
[[nodiscard]] std::vector<OwnershipChange> ownership_changes(const std::string& log);
// The units an instance owns according to its own log (taken and not released since).
[[nodiscard]] std::set<std::string> owned_per_log(const std::string& log);

// Read-model discrepancies; all zero when the read models are exact.
struct ReadModelReport {
    std::int64_t events = 0;
    std::int64_t missing = 0;       // events never applied
    std::int64_t repeated = 0;      // events applied more than once
    std::int64_t unknown = 0;       // applied rows without an event
    std::int64_t wrong_orders = 0;  // orders whose count or last version is wrong
    std::int64_t out_of_order = 0;  // applications not in version order
    std::string examples;           // a few offending event ids / orders
    [[nodiscard]] bool exact() const {
        return missing == 0 && repeated == 0 && unknown == 0 && wrong_orders == 0 &&
               out_of_order == 0;
    }
    [[nodiscard]] std::string to_string() const;
};

// YAML items. A projection writes `applied` and/or `per_order`, for all three order event
// types; the webhook takes OrderShipped only, ordering none, with a long retry schedule (the
// receiver answers 200, so retries come only from faults).
[[nodiscard]] std::string projection_yaml(const std::string& name, bool applied, bool per_order,
                                          int partitions = 1);
[[nodiscard]] std::string webhook_yaml(const std::string& name, const std::string& url,
                                       int max_in_flight = 16);
// "orders[1/4]" .. "orders[4/4]" (just "orders" when partitions is 1).
[[nodiscard]] std::vector<std::string> part_names(const std::string& projection, int partitions);

[[nodiscard]] std::string seconds_since(std::chrono::steady_clock::time_point t0);

// DaemonTest with several instances' worth of checks: the tests call migrate() (or
// use_database() for a cluster of their own) before loading orders.
class FaultTest : public DaemonTest {
  protected:
    // Creates `applied` and `per_order` (the projections' setup does the same, IF NOT EXISTS),
    // so checks work before any instance has started.
    void create_read_models();
    // Appends orders 1..orders, `versions` events each (version 1 OrderCreated, the last
    // OrderShipped for every tenth order, ItemAdded otherwise), interleaved by version, in
    // transactions of 2,000 orders. Returns the number of events.
    std::int64_t load_orders(std::int64_t orders, int versions = 10);

    // database/tailer/http/log/coordination sections, then `units` verbatim (projections: and
    // webhooks: sections). Written to <temp dir>/sluice.yaml; returns the path.
    std::string write_config(const std::string& units, const std::string& failover_after = "3s");

    [[nodiscard]] std::map<std::string, Position> checkpoints();
    // The slowest of `units` (zero for a unit without a checkpoint yet): how far a catch-up is.
    [[nodiscard]] Position slowest(const std::vector<std::string>& units);
    [[nodiscard]] std::map<std::string, Owner> owners();
    // Units whose checkpoint is not at the head, as "name at (tx,id)"; empty when all are.
    [[nodiscard]] std::string behind_head(const std::vector<std::string>& units);
    // Waits until every unit's checkpoint is at the head (the writer must have stopped).
    [[nodiscard]] bool wait_all_at_head(const std::vector<std::string>& units,
                                        std::chrono::milliseconds timeout);

    // Empty when, in one snapshot, the `applied` and `per_order` projections' read models hold
    // exactly the events up to their checkpoints (read model and checkpoint commit together,
    // so this holds at every moment, whatever was killed); otherwise what differs.
    [[nodiscard]] std::string checkpoint_consistency_problem();
    [[nodiscard]] ReadModelReport read_model();
    void expect_read_model_exact(const std::string& when);

    // Empty when every unit is owned (a sluice.owners row naming a running instance, and its
    // advisory lock held) and no instance owns more than `max_per_instance`; otherwise what is
    // wrong.
    [[nodiscard]] std::string ownership_problem(const std::vector<std::string>& units,
                                                Instances& instances, std::size_t max_per_instance);
    // Empty when each running instance's /status names exactly the units sluice.owners gives
    // its pid, under the instance id of those rows; otherwise what differs.
    [[nodiscard]] std::string status_problem(Instances& instances);

    [[nodiscard]] std::int64_t shipped_events();
    [[nodiscard]] std::int64_t delivered(const std::string& webhook);
    // Every OrderShipped event's message arrived at least once, with valid signatures; a
    // repeat carries the same webhook-id and body; nothing else arrived; the outbox holds one
    // row per event.
    void expect_webhooks_complete(const HttpReceiver& receiver, const std::string& webhook);
    // The dispatcher enqueued exactly once: one outbox row per OrderShipped event.
    void expect_one_outbox_row_per_event(const std::string& webhook);

    // Owners, checkpoints, head, outbox states and every instance's log tail.
    [[nodiscard]] std::string diagnose(Instances& instances);
};

}  // namespace sluice::testing::fault
