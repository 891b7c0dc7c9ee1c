// The NOTIFY wake-up path: with a 30 s poll interval, a committed event still reaches the read
// model in well under a second; when its LISTEN and fetch connections are terminated, sluice
// reconnects and catches up without waiting for a poll. Events held back by an open transaction
// are read within milliseconds of its end, though no NOTIFY comes then; sluice's own event-free
// sessions hold nothing back and may not write events.
// Runs serially (see CMakeLists.txt): transaction ids are cluster-wide, so another test's open
// transaction in another database would hold back the visibility horizon and the latency.
#include <iostream>
#include <thread>

#include "daemon_fixture.hpp"
#include "infra/pg/literal.hpp"

namespace sluice::testing {
namespace {

const std::string recorder = R"(
projections:
  - name: recorder
    setup: CREATE TABLE IF NOT EXISTS applied (event_id bigint PRIMARY KEY)
    handlers:
      E: INSERT INTO applied VALUES (:id)
)";

// Records when it applied each event, for latency measured inside the server.
const std::string timed_recorder = R"(
projections:
  - name: recorder
    setup: |
      CREATE TABLE IF NOT EXISTS applied (event_id bigint PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT clock_timestamp())
    handlers:
      E: INSERT INTO applied (event_id) VALUES (:id)
)";

class Notify : public DaemonTest {
  protected:
    bool applied(std::int64_t id) {
        return scalar("SELECT count(*) FROM applied WHERE event_id = $1", pg::Params(id)) == 1;
    }

    // The pid of sluice's LISTEN connection once it is listening on this test's database.
    std::optional<std::int64_t> listen_pid() {
        auto r = conn().exec(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'sluice listen' AND query ILIKE 'LISTEN%'");
        if (r.rows() != 1)
            return std::nullopt;
        return r.int64(0, 0);
    }

    // Starts sluice with `poll_interval` and `projection` (which defines `recorder`) and waits
    // until one event has gone through; returns the daemon and that event's position.
    std::pair<DaemonProcess, Position> start_warm(const std::string& poll_interval,
                                                  const std::string& projection) {
        db_->migrate();
        auto daemon = DaemonProcess::start(
            write_file("sluice.yaml", base_config({.poll_interval = poll_interval}) + projection));
        EXPECT_TRUE(wait_running(daemon, {"recorder"}));
        Position warmup = insert_event("E");
        EXPECT_TRUE(wait_checkpoint("recorder", warmup, 10s)) << diagnose(daemon);
        return {std::move(daemon), warmup};
    }

    // A transaction that holds a transaction id, and with it the horizon, until it commits.
    pg::Connection open_holder(const std::string& application_name = "sluice tests") {
        auto holder = db_->connect();
        holder.exec("SET application_name = " + pg::quote_literal(application_name));
        holder.exec("BEGIN");
        holder.exec("SELECT pg_current_xact_id()");
        return holder;
    }

    // Inserts an event and returns how long it took to reach the read model (bounded).
    std::chrono::milliseconds latency_of_new_event(std::chrono::milliseconds bound) {
        auto t0 = std::chrono::steady_clock::now();
        Position p = insert_event("E");
        if (!wait_until([&] { return applied(p.id); }, bound))
            return bound;
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - t0);
    }
};

TEST_F(Notify, ANewEventArrivesWithinASecondAndAfterTheConnectionsAreKilled) {
    db_->migrate();
    auto daemon = DaemonProcess::start(
        write_file("sluice.yaml", base_config({.poll_interval = "30s"}) + recorder));
    ASSERT_TRUE(wait_running(daemon, {"recorder"}));
    ASSERT_TRUE(wait_until([&] { return listen_pid().has_value(); }, 10s))
        << "no LISTEN connection\n"
        << diagnose(daemon);

    // A warm-up event brings the subscriber to the shared feed's head.
    Position warmup = insert_event("E");
    ASSERT_TRUE(wait_checkpoint("recorder", warmup, 10s)) << diagnose(daemon);

    for (int i = 0; i < 3; ++i) {
        auto took = latency_of_new_event(5s);
        EXPECT_LT(took, 1s) << "event " << i << " took " << took.count()
                            << " ms with a 30 s poll: the NOTIFY did not wake sluice";
    }
    auto wakeups_before = status(daemon).notify_wakeups;
    EXPECT_GE(wakeups_before, 3U);

    std::int64_t old_listen = *listen_pid();
    auto killed = scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() "
        "AND application_name IN ('sluice listen', 'sluice tailer')");
    ASSERT_EQ(killed, 2) << "expected one LISTEN and one fetch connection";

    // Committed while sluice is (probably) not listening: the reconnect marks the feed dirty and
    // fetches, so the event arrives without waiting the 30 s poll.
    auto while_down = latency_of_new_event(10s);
    EXPECT_LT(while_down, 5s) << "after the connections were killed, the event took "
                              << while_down.count() << " ms\n"
                              << diagnose(daemon);
    ASSERT_TRUE(wait_until(
        [&] {
            auto pid = listen_pid();
            return pid && *pid != old_listen;
        },
        10s))
        << "sluice did not LISTEN again\n"
        << diagnose(daemon);
    EXPECT_TRUE(daemon.wait_for_log("msg=\"listening again\"", 5s)) << diagnose(daemon);

    // Back on the NOTIFY path.
    auto after = latency_of_new_event(5s);
    EXPECT_LT(after, 1s) << "after reconnecting, the event took " << after.count() << " ms";
    auto st = status(daemon);
    EXPECT_GT(st.notify_wakeups, wakeups_before);
    EXPECT_TRUE(st.ready);
    EXPECT_EQ(st.subscriber("recorder")->position, head());
    EXPECT_EQ(scalar("SELECT count(*) FROM applied"), scalar("SELECT count(*) FROM events"));
}

// The poll still covers a held-back event: with the held-back recheck it is found sooner, but a
// poll that never fires (a subscriber's wait cancelling the timer every time, as once happened)
// would leave an event whose NOTIFY found it held back unread until some later NOTIFY.
TEST_F(Notify, AnEventHeldBackByTheHorizonAtNotifyTimeArrivesWithTheNextPoll) {
    auto [daemon, warmup] = start_warm("200ms", recorder);
    ASSERT_FALSE(HasFailure());

    // An older transaction holds the horizon when the event commits: its NOTIFY finds nothing.
    auto holder = open_holder();
    auto fetches = status(daemon).fetches;
    Position held = insert_event("E");
    ASSERT_TRUE(wait_until([&] { return status(daemon).fetches > fetches; }, 5s))
        << "the NOTIFY did not cause a fetch\n"
        << diagnose(daemon);
    EXPECT_FALSE(applied(held.id)) << "visible despite the open older transaction?";
    // The holder ends without inserting events: no NOTIFY. Only the poll can find the event.
    holder.exec("COMMIT");
    EXPECT_TRUE(wait_checkpoint("recorder", held, 5s))
        << "with a 200 ms poll interval, the event was not fetched within 5 s\n"
        << diagnose(daemon);
}

TEST_F(Notify, EventsHeldBackByAnOpenTransactionAreAppliedWithinMillisecondsOfItsEnd) {
    // A minute between polls: only the held-back recheck can find the events in time.
    auto [daemon, warmup] = start_warm("60s", timed_recorder);
    ASSERT_FALSE(HasFailure());

    auto holder = open_holder();
    Position last;
    for (int i = 0; i < 3; ++i)
        last = insert_event("E");
    auto rechecks = status(daemon).held_rechecks;
    ASSERT_TRUE(wait_until([&] { return status(daemon).held_rechecks > rechecks + 10; }, 5s))
        << "the held-back events were not looked at again\n"
        << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM applied WHERE event_id > $1", pg::Params(warmup.id)), 0)
        << "applied while an older transaction was still open";

    holder.exec("COMMIT");
    std::string ended(holder.exec("SELECT clock_timestamp()::text").text(0, 0));
    ASSERT_TRUE(wait_checkpoint("recorder", last, 5s)) << diagnose(daemon);
    auto r = conn().exec(
        "SELECT (extract(epoch FROM max(applied_at) - $1::timestamptz) * 1000)::float8 "
        "FROM applied WHERE event_id > $2",
        pg::Params(ended, warmup.id));
    double ms = std::strtod(std::string(r.text(0, 0)).c_str(), nullptr);
    std::cout << "the last held-back event was applied " << ms
              << " ms after the holding transaction ended\n";
    // Typically 2 to 5 ms; the bound leaves room for a busy machine, far below the poll.
    EXPECT_LT(ms, 100.0) << "the last held-back event was applied " << ms
                         << " ms after the holding transaction ended";
}

TEST_F(Notify, SluicesOwnEventFreeSessionsHoldNothingBackAndMayNotWriteEvents) {
    auto [daemon, warmup] = start_warm("60s", recorder);
    ASSERT_FALSE(HasFailure());

    // A transaction of a session named like sluice's coordination connection, or like a
    // rebuild's or rollback's replay (whose handlers must not append events again), stays open.
    for (const char* name : {"sluice coordination", "sluice rebuild", "sluice rollback"}) {
        auto holder = open_holder(name);
        Position p = insert_event("E");
        EXPECT_TRUE(wait_checkpoint("recorder", p, 5s))
            << "the open transaction of a session named '" << name << "' held the event back\n"
            << diagnose(daemon);

        std::string sqlstate;
        try {
            holder.exec(
                "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
                "VALUES (gen_random_uuid(), 'Test', 1, 'E', '{}')");
        } catch (const pg::ServerError& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "SL004") << "a session named '" << name << "' wrote an event";
        holder.exec("ROLLBACK");
    }
}

TEST_F(Notify, AProjectionAtTheHeadIsWokenByTheNotifyAloneAndTheFeedReadsNothingForIt) {
    // A projection reads and applies in one statement: the NOTIFY wakes it, no fetch comes first.
    auto [daemon, warmup] = start_warm("60s", recorder);
    ASSERT_FALSE(HasFailure());
    auto fetches = status(daemon).fetches;
    for (int i = 0; i < 20; ++i) {
        Position p = insert_event("E");
        ASSERT_TRUE(wait_checkpoint("recorder", p, 5s)) << diagnose(daemon);
    }
    // A look is allowed when a wake-up finds nothing (an event held back by another
    // transaction of the cluster); twenty events must not cost twenty reads.
    EXPECT_LE(status(daemon).fetches, fetches + 2) << diagnose(daemon);
}

}  // namespace
}  // namespace sluice::testing
