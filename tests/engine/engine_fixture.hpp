// In-process engine tests: the real engine::Feed and engine::Runner on the test's own
// io_context, against a fresh migrated database per test, with RecordingSink as the sink.
// The test thread runs the io_context itself (run_until) between its own blocking statements,
// so nothing runs concurrently with the test's reads. TearDown stops every runner and the feed
// and checks that nothing leaked: every spawned task ended and the io_context ran out of work
// within a bounded time.
// Error policy: helpers throw (failing the test) on database failures; waits are bounded and
// return whether their condition held.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/feed.hpp"
#include "engine/runner.hpp"
#include "recording_sink.hpp"
#include "test_database.hpp"

namespace sluice::testing {

using namespace std::chrono_literals;
using engine::Position;

// One event to insert: aggregate (a test-local name, mapped to a uuid) and version.
struct TestEvent {
    std::string aggregate;
    int version = 1;
};

class EngineTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    [[nodiscard]] engine::FeedOptions feed_options(std::chrono::milliseconds poll) const;
    [[nodiscard]] engine::RunnerOptions runner_options(std::chrono::milliseconds poll) const;
    // Constructs the feed and spawns its run() on io_.
    engine::Feed& start_feed(engine::FeedOptions options);
    // Constructs a runner over a RecordingSink and spawns its run() on io_ (start_feed first).
    engine::Runner& start_runner(const std::string& name, config::OnError on_error,
                                 std::shared_ptr<SinkProbe> probe, engine::RunnerOptions options);

    // Runs io_ until `condition` holds; false when `timeout` passes first or io_ runs out of
    // work without it holding.
    [[nodiscard]] bool run_until(const std::function<bool()>& condition,
                                 std::chrono::milliseconds timeout);

    // Inserts `events` in one transaction, in this order; returns their positions.
    std::vector<Position> insert(const std::vector<TestEvent>& events);
    // Event ids the sink `name` applied, in the order it applied them.
    [[nodiscard]] std::vector<std::int64_t> applied(const std::string& name);
    // "A1 B1 A2": the aggregates and versions `name` applied, in order.
    [[nodiscard]] std::string applied_versions(const std::string& name);
    [[nodiscard]] std::optional<Position> checkpoint(const std::string& name);
    [[nodiscard]] std::int64_t scalar(const std::string& sql, const pg::Params& params = {});
    // Statuses and checkpoints of every runner, for failure messages.
    [[nodiscard]] std::string describe();

    // Member order is lifetime order: io_ outlives the feed and the runners (their timers and
    // connections use it), and the runners (which refer to the feed) die before the feed.
    boost::asio::io_context io_;
    std::optional<TestDatabase> db_;
    std::optional<pg::Connection> conn_;
    std::unique_ptr<engine::Feed> feed_;
    std::vector<std::unique_ptr<engine::Runner>> runners_;
    int tasks_running_ = 0;  // spawned run() coroutines that have not ended
};

}  // namespace sluice::testing
