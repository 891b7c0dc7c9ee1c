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

// The horizon warning once named an idle projection connection at shutdown: "sluice projection
// applied" holding a transaction with an xid for 44 s. When a session that created temporary
// objects (the projection's pg_temp apply functions) disconnects, its backend drops them in a
// transaction of its own: it has a transaction id, state 'idle', and an xact_start that is the
// start of the last statement the client sent, 44 s earlier for a projection with nothing to
// do. That transaction lasts milliseconds; here a row lock on the function keeps it waiting so
// the test can look at it.
TEST_F(Feed, TheHorizonWarningNeverNamesASessionEndingAfterItsClientDisconnected) {
    std::optional<pg::Connection> projection =
        pg::Connection::open(db_->url(), 10, "sluice projection applied");
    projection->exec(
        "CREATE FUNCTION pg_temp.sluice_apply_applied() RETURNS int LANGUAGE sql AS 'SELECT 1'");
    const std::string function_oid(
        projection->exec("SELECT 'pg_temp.sluice_apply_applied'::regproc::oid::text").text(0, 0));
    const std::string projection_pid(projection->exec("SELECT pg_backend_pid()::text").text(0, 0));

    pg::Connection holder = pg::Connection::open(db_->url(), 10, "sluice test lock holder");
    holder.exec("BEGIN");
    holder.exec("SELECT 1 FROM pg_proc WHERE oid = $1::oid FOR UPDATE", pg::Params(function_oid));
    const std::string holder_pid(holder.exec("SELECT pg_backend_pid()::text").text(0, 0));

    projection.reset();  // disconnects: its backend now drops the function, and waits for the lock
    const std::string ending =
        "SELECT count(*) FROM pg_stat_activity p, pg_stat_activity h "
        "WHERE p.pid = $1::int AND h.pid = $2::int AND p.backend_xid IS NOT NULL "
        "AND p.state = 'idle' AND p.xact_start < h.xact_start";
    ASSERT_TRUE(wait_until(
        [&] { return scalar(ending, pg::Params(projection_pid, holder_pid)) == 1; }, 10s))
        << "the disconnected session never showed a transaction id older than the lock holder's";

    const std::string named =
        "SELECT count(*) FROM (" + engine::horizon_holders_sql() + ") h WHERE pid = $1::int";
    EXPECT_EQ(scalar(named, pg::Params(projection_pid)), 0)
        << "the horizon warning would blame a session whose client has gone";
    EXPECT_EQ(scalar(named, pg::Params(holder_pid)), 1)
        << "a transaction held open by a client must still be named";

    holder.exec("COMMIT");
    EXPECT_TRUE(wait_until(
        [&] {
            return scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int",
                          pg::Params(projection_pid)) == 0;
        },
        10s))
        << "the disconnected session did not end after the lock was released";
}

}  // namespace
}  // namespace sluice::testing
