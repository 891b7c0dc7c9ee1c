// EventWriter under concurrency: optimistic appends to one aggregate from many connections
// never lose or duplicate a version, and every lost race is a VersionConflict.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <latch>
#include <thread>

#include "store/event_writer.hpp"
#include "store_support.hpp"
#include "test_database.hpp"

namespace sluice::testing {
namespace {

const std::string aggregate = "0b7e3c1a-5d2f-4e8a-9c6b-1f2e3d4c5b6a";

store::NewEvent event(const std::string& type, const std::string& payload) {
    return {type, payload, std::nullopt, std::nullopt};
}

struct WriterTally {
    int appended = 0;
    int conflicts = 0;
    std::vector<std::string> failures;  // anything that is not a well-formed VersionConflict
};

// Appends to `aggregate` until it reaches `target` versions, reloading before every attempt.
WriterTally run_writer(const TestDatabase& db, int writer, int target, std::latch& start) {
    WriterTally tally;
    try {
        auto conn = db.connect();
        store::EventWriter w(conn);
        start.arrive_and_wait();
        for (int attempt = 0; attempt < 20 * target; ++attempt) {
            auto history = store::load(conn, aggregate);
            int at = history.empty() ? 0 : history.back().version;
            if (at >= target)
                return tally;
            try {
                w.append(
                    aggregate, "Counter", at,
                    {event("Incremented", "{\"writer\":" + std::to_string(writer) +
                                              ",\"version\":" + std::to_string(at + 1) + "}")});
                ++tally.appended;
            } catch (const store::VersionConflict& c) {
                ++tally.conflicts;
                if (c.aggregate_id() != aggregate || c.expected() != at || c.actual() <= at) {
                    tally.failures.push_back(std::string("malformed conflict: ") + c.what());
                }
            }
        }
        tally.failures.push_back("writer " + std::to_string(writer) + " gave up after " +
                                 std::to_string(20 * target) + " attempts");
    } catch (const pg::Error& e) {
        tally.failures.push_back("raw pg::Error (SQLSTATE " + pg::sqlstate_of(e) +
                                 "): " + e.what());
    } catch (const std::exception& e) {
        tally.failures.push_back(std::string("unexpected exception: ") + e.what());
    }
    return tally;
}

TEST(EventWriter, EightConcurrentWritersWriteEachVersionOfOneAggregateExactlyOnce) {
    auto db = TestDatabase::create();
    db.migrate();
    constexpr int writers = 8;
    constexpr int target = 200;

    std::latch start(writers);
    std::vector<std::future<WriterTally>> running;
    for (int i = 0; i < writers; ++i) {
        running.push_back(std::async(
            std::launch::async, [&db, &start, i] { return run_writer(db, i, target, start); }));
    }
    int appended = 0;
    int conflicts = 0;
    for (int i = 0; i < writers; ++i) {
        ASSERT_EQ(running[i].wait_for(std::chrono::seconds(60)), std::future_status::ready)
            << "writer " << i << " did not finish within 60 s";
        WriterTally t = running[i].get();
        appended += t.appended;
        conflicts += t.conflicts;
        for (const auto& f : t.failures)
            ADD_FAILURE() << "writer " << i << ": " << f;
    }
    EXPECT_EQ(appended, target) << "the writers' successful appends must add up to the versions";
    EXPECT_GT(conflicts, 0) << "8 racing writers must have lost some races";

    auto conn = db.connect();
    auto r = conn.exec(
        "SELECT count(*), count(DISTINCT version), min(version), max(version), "
        "count(*) FILTER (WHERE (payload->>'version')::int <> version) "
        "FROM events WHERE aggregate_id = $1",
        pg::Params(aggregate));
    EXPECT_EQ(r.int64(0, 0), target) << "rows";
    EXPECT_EQ(r.int64(0, 1), target) << "distinct versions";
    EXPECT_EQ(r.int64(0, 2), 1) << "lowest version";
    EXPECT_EQ(r.int64(0, 3), target) << "highest version";
    EXPECT_EQ(r.int64(0, 4), 0) << "rows whose payload was written for another version";
}

struct AppendOutcome {
    std::optional<int> version;
    std::optional<store::VersionConflict> conflict;
    std::string failure;
};

TEST(EventWriter, MapsALostUniqueIndexRaceToAVersionConflict) {
    auto db = TestDatabase::create();
    db.migrate();
    auto a = db.connect();
    auto b = db.connect();
    auto observer = db.connect();
    std::int64_t a_pid = a.exec("SELECT pg_backend_pid()").int64(0, 0);

    pg::Transaction a_tx(a);
    a.exec(
        "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
        "VALUES ($1, 'Order', 1, 'Created', '{}')",
        pg::Params(aggregate));

    // B sees version 0 (A has not committed), passes the version check and then waits on the
    // unique index entry that A holds.
    auto b_append = std::async(std::launch::async, [&b] {
        AppendOutcome out;
        try {
            store::EventWriter w(b);
            out.version = w.append(aggregate, "Order", 0, {event("Created", "{}")});
        } catch (const store::VersionConflict& c) {
            out.conflict = c;
        } catch (const std::exception& e) {
            out.failure = e.what();
        }
        return out;
    });
    bool blocked = wait_until(
        [&] {
            return observer
                       .exec(
                           "SELECT count(*) FROM pg_stat_activity "
                           "WHERE $1::int = ANY(pg_blocking_pids(pid))",
                           pg::Params(a_pid))
                       .int64(0, 0) == 1;
        },
        std::chrono::seconds(10));
    // Commit before asserting: B's future joins in its destructor, so A must never stay open.
    a_tx.commit();
    ASSERT_TRUE(blocked) << "B's append never waited on A's uncommitted insert";

    ASSERT_EQ(b_append.wait_for(std::chrono::seconds(10)), std::future_status::ready)
        << "B's append did not return after A committed";
    AppendOutcome out = b_append.get();
    EXPECT_EQ(out.failure, "") << "expected a VersionConflict, got another error";
    EXPECT_FALSE(out.version) << "B's append succeeded at version " << out.version.value_or(0);
    ASSERT_TRUE(out.conflict);
    EXPECT_EQ(out.conflict->aggregate_id(), aggregate);
    EXPECT_EQ(out.conflict->expected(), 0);
    EXPECT_EQ(out.conflict->actual(), 1);
    EXPECT_EQ(count_events(observer), 1);
}

TEST(EventWriter, RejectsAStaleExpectedVersionWithoutWriting) {
    auto db = TestDatabase::create();
    db.migrate();
    auto conn = db.connect();
    store::EventWriter w(conn);
    EXPECT_EQ(w.append(aggregate, "Order", 0, {event("Created", "{}"), event("Paid", "{}")}), 2);
    try {
        w.append(aggregate, "Order", 1, {event("Shipped", "{}")});
        ADD_FAILURE() << "appending at a stale version succeeded";
    } catch (const store::VersionConflict& c) {
        EXPECT_EQ(c.expected(), 1);
        EXPECT_EQ(c.actual(), 2);
        EXPECT_STREQ(c.what(), ("version conflict on aggregate " + aggregate +
                                ": expected version 1, but it is at version 2")
                                   .c_str());
    }
    EXPECT_EQ(count_events(conn), 2);
}

}  // namespace
}  // namespace sluice::testing
