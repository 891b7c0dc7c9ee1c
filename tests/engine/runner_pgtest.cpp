// engine::Runner in-process: how it contains a failing handler and in what order it hands a
// batch to its sink. Each test inserts its events before the runner starts, so the runner reads
// them as one batch on its own connection, then joins the feed at the head.
#include <gtest/gtest.h>

#include "engine_fixture.hpp"

namespace sluice::testing {
namespace {

config::OnError on_error(int retries, config::OnError::Then then) {
    return {.retries = retries, .backoff = std::chrono::milliseconds(10), .then = then};
}

std::vector<TestEvent> eight_aggregates() {
    std::vector<TestEvent> out;
    for (char c = 'A'; c < 'A' + 8; ++c)
        out.push_back({std::string(1, c), 1});
    return out;
}

std::vector<std::int64_t> ids_of(const std::vector<Position>& positions) {
    std::vector<std::int64_t> out;
    for (const auto& p : positions)
        out.push_back(p.id);
    return out;
}

class Runner : public EngineTest {
  protected:
    // Eight events of eight aggregates in one transaction, the one at `failing` failing in the
    // sink, and a runner (with its feed) over them.
    engine::Runner& start_over_eight(std::size_t failing, config::OnError policy) {
        events_ = insert(eight_aggregates());
        probe_->failing = {events_.at(failing).id};
        start_feed(feed_options(100ms));
        return start_runner("p", policy, probe_, runner_options(100ms));
    }

    std::vector<Position> events_;
    std::shared_ptr<SinkProbe> probe_ = std::make_shared<SinkProbe>();
};

TEST_F(Runner, HalvesAFailingBatchCommitsTheGoodEventsAndParksTheFailingOne) {
    auto& runner = start_over_eight(5, on_error(2, config::OnError::Then::park));

    ASSERT_TRUE(run_until([&] { return runner.status()->position == events_.back(); }, 20s))
        << describe();

    // 8 fail; their first 4 commit; of the other 4, 2 fail and their first commits; that leaves
    // the failing event alone: its two retries fail, it is parked, and the rest goes whole.
    EXPECT_EQ(probe_->batch_sizes, (std::vector<std::size_t>{8, 4, 2, 1, 1, 1, 2}));
    auto expected = ids_of(events_);
    expected.erase(expected.begin() + 5);
    EXPECT_EQ(applied("p"), expected);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.parked_events WHERE subscriber = 'p' AND "
                     "event_id = $1 AND sqlstate = '22012'",
                     pg::Params(events_[5].id)),
              1);
    EXPECT_EQ(checkpoint("p"), events_.back());
    EXPECT_EQ(runner.status()->parked, 1U);
    EXPECT_EQ(runner.status()->state, engine::State::running);
}

TEST_F(Runner, StopsAtAFailingEventAfterCommittingTheEventsBeforeIt) {
    auto& runner = start_over_eight(5, on_error(1, config::OnError::Then::stop));

    ASSERT_TRUE(run_until([&] { return runner.status()->state == engine::State::stopped; }, 20s))
        << describe();

    auto ids = ids_of(events_);
    EXPECT_EQ(applied("p"), std::vector<std::int64_t>(ids.begin(), ids.begin() + 5));
    EXPECT_EQ(checkpoint("p"), events_[4]) << "the checkpoint must stop before the failing event";
    EXPECT_EQ(runner.status()->failed_event_id, events_[5].id);
    EXPECT_EQ(runner.status()->last_sqlstate, "22012");
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.parked_events"), 0);
    // Halving down to the failing event, then its one retry: nothing after it is tried.
    EXPECT_EQ(probe_->batch_sizes, (std::vector<std::size_t>{8, 4, 2, 1, 1}));
}

TEST_F(Runner, GoesOnWhenAFailingEventSucceedsOnARetry) {
    auto& runner = start_over_eight(2, on_error(3, config::OnError::Then::stop));

    // Once the runner has isolated the event and waits to retry it, the cause goes away.
    ASSERT_TRUE(run_until([&] { return runner.status()->state == engine::State::retrying; }, 20s))
        << describe();
    probe_->failing.clear();
    ASSERT_TRUE(run_until([&] { return runner.status()->position == events_.back(); }, 20s))
        << describe();

    EXPECT_EQ(applied("p"), ids_of(events_));
    EXPECT_EQ(runner.status()->state, engine::State::running);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.parked_events"), 0);
}

TEST_F(Runner, AppliesAnAggregatesVersionsInOrderWhenOneTransactionInsertedThemOutOfOrder) {
    // One transaction: A's versions 3, 1, 2 with B's between them.
    auto events = insert({{"A", 3}, {"B", 1}, {"A", 1}, {"B", 2}, {"A", 2}});
    start_feed(feed_options(100ms));
    auto& runner = start_runner("p", on_error(0, config::OnError::Then::stop),
                                std::make_shared<SinkProbe>(), runner_options(100ms));

    ASSERT_TRUE(run_until([&] { return runner.status()->position == events.back(); }, 20s))
        << describe();
    EXPECT_EQ(applied_versions("p"), "A1 B1 A2 B2 A3");
    EXPECT_EQ(checkpoint("p"), events.back());
}

}  // namespace
}  // namespace sluice::testing
