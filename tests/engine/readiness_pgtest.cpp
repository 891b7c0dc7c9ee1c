// What the daemon reports as ready (daemon::readiness, behind /readyz), fed with the live status
// of an in-process feed and runner: not ready until the feed is connected, ready while every
// runner runs, not ready once a runner stopped on a failing event or the database is out of
// reach. (The same through the binary, across a PostgreSQL restart: tests/daemon/service.)
#include <gtest/gtest.h>

#include "daemon/status_report.hpp"
#include "engine_fixture.hpp"

namespace sluice::testing {
namespace {

class InProcessReadiness : public EngineTest {
  protected:
    // One instance, no coordinator: its connection counts as up and its units as taken (the
    // daemon's "starting" before that: tests/daemon/status_report_test.cpp).
    daemon::Readiness now() const {
        daemon::DaemonState state;
        for (const auto& r : runners_)
            state.subscribers.push_back(r->status());
        state.feed = feed_->stats();
        state.coordination.connected = true;
        state.coordination.rounds = 1;
        state.now = std::chrono::steady_clock::now();
        return daemon::readiness(state);
    }
};

TEST_F(InProcessReadiness, IsReadyOnceTheFeedIsConnectedAndEveryRunnerRuns) {
    start_feed(feed_options(100ms));
    auto& runner = start_runner("p", {}, std::make_shared<SinkProbe>(), runner_options(100ms));
    EXPECT_FALSE(now().ready);
    EXPECT_EQ(now().reason, "database connection lost") << "before the feed first connected";

    ASSERT_TRUE(run_until([&] { return now().ready; }, 20s)) << now().reason << "\n" << describe();
    EXPECT_EQ(now().reason, "ok");
    EXPECT_EQ(runner.status()->state, engine::State::running);
}

TEST_F(InProcessReadiness, IsNotReadyOnceARunnerStoppedOnAFailingEvent) {
    auto events = insert({{"A", 1}, {"B", 1}});
    auto probe = std::make_shared<SinkProbe>();
    probe->failing = {events[1].id};
    start_feed(feed_options(100ms));
    auto& runner = start_runner("p", {.retries = 1, .backoff = std::chrono::milliseconds(10)},
                                probe, runner_options(100ms));

    ASSERT_TRUE(run_until([&] { return runner.status()->state == engine::State::retrying; }, 20s))
        << describe();
    EXPECT_FALSE(now().ready);
    EXPECT_EQ(now().reason, "projection p retrying");
    ASSERT_TRUE(run_until([&] { return runner.status()->state == engine::State::stopped; }, 20s))
        << describe();
    EXPECT_FALSE(now().ready);
    EXPECT_EQ(now().reason, "projection p stopped");
}

TEST_F(InProcessReadiness, IsNotReadyWhileTheFeedCannotReachTheDatabase) {
    auto options = feed_options(100ms);
    options.url = with_database(db_->url(), "sluice_no_such_database");
    auto& feed = start_feed(options);
    ASSERT_TRUE(run_until([&] { return feed.stats().reconnects >= 2; }, 20s)) << describe();
    EXPECT_FALSE(now().ready);
    EXPECT_EQ(now().reason, "database connection lost");
    EXPECT_NE(feed.stats().last_error, "");
}

}  // namespace
}  // namespace sluice::testing
