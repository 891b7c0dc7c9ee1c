// engine::Feed in-process: one shared read serves every runner at the head. The feed and the
// runners read a view of the events table that counts the rows it hands out (a sequence,
// advanced once per row returned), so the test sees how many rows were read, by anyone.
#include <gtest/gtest.h>

#include "engine_fixture.hpp"

namespace sluice::testing {
namespace {

// Every returned row evaluates aggregate_type, and with it nextval: rows a filter drops (later
// positions) are never counted. Rows above the event horizon are not counted either: the feed
// probes for one while events are held back (by any open transaction in the cluster, another
// test's too), which checks whether to look again, not a read of events.
const char* counted_view_sql =
    "CREATE SEQUENCE rows_read;"
    "CREATE VIEW counted_events AS SELECT transaction_id, id, aggregate_id, version, event_type, "
    "timestamp, CASE WHEN transaction_id < sluice.event_horizon() THEN "
    "CASE WHEN nextval('rows_read') > 0 THEN aggregate_type END END AS aggregate_type "
    "FROM events";

class Feed : public EngineTest {
  protected:
    void SetUp() override {
        EngineTest::SetUp();
        conn_->exec_script(counted_view_sql);
    }
    std::int64_t rows_read() {
        return scalar("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM rows_read");
    }
};

TEST_F(Feed, ServesSeveralRunnersAtTheHeadFromOneRead) {
    auto feed_opts = feed_options(200ms);
    feed_opts.quoted_table = "\"counted_events\"";
    auto& feed = start_feed(feed_opts);
    auto runner_opts = runner_options(200ms);
    runner_opts.quoted_table = "\"counted_events\"";
    std::vector<engine::Runner*> runners;
    for (const char* name : {"p1", "p2", "p3"}) {
        runners.push_back(&start_runner(name, {}, std::make_shared<SinkProbe>(), runner_opts));
    }
    // Each runner reads the (empty) table once on its own, then waits in the feed.
    ASSERT_TRUE(run_until([&] { return feed.waiters() == 3; }, 20s)) << describe();
    ASSERT_EQ(rows_read(), 0);

    std::vector<TestEvent> batch;
    for (int i = 0; i < 20; ++i)
        batch.push_back({"A", i + 1});
    auto events = insert(batch);
    ASSERT_TRUE(run_until(
        [&] {
            for (auto* r : runners) {
                if (r->status()->position != events.back())
                    return false;
            }
            return true;
        },
        20s))
        << describe();

    EXPECT_EQ(rows_read(), 20) << "three runners at the head cost more than one read of the "
                                  "events ("
                               << feed.stats().fetches << " feed fetches)";
    for (auto* r : runners) {
        EXPECT_EQ(r->status()->events, 20U) << r->status()->name;
        EXPECT_EQ(r->status()->batches, 1U) << r->status()->name;
    }
}

}  // namespace
}  // namespace sluice::testing
