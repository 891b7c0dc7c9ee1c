// A part's server-side catch-up reads only its own events once the part index is ready, and still
// applies exactly its events, each once, in commit order (transaction_id, id) — including
// events whose transactions took their ids in one order and committed in the other, and events
// held back above the horizon by an open transaction. Without the index a part reads every event
// and applies the same ones. Each checkpoint ends at the last event of the whole log. The
// daemon's builder creates the index, and replaces an invalid one left by an interrupted build.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <map>
#include <string>
#include <vector>

#include "infra/pg/connection.hpp"
#include "projections/apply_function.hpp"
#include "projections/part_index.hpp"
#include "projections/partition.hpp"
#include "test_database.hpp"

namespace sluice::projections {
namespace {

constexpr int parts = 3;
constexpr int limit = 7;  // small: many batches, full ones and short ones
const std::string table = "\"events\"";

config::Projection recording_projection() {
    config::Projection p;
    p.name = "recorder";
    p.handlers.push_back({"Happened",
                          "INSERT INTO applied (event_id, aggregate_id, version) "
                          "VALUES (:id, :aggregate_id, :version)"});
    return p;
}

// `count` events of one aggregate each for `aggregates` aggregates, in one statement.
void append(pg::Connection& conn, int aggregates, int first_version, int count) {
    conn.exec(
        "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
        "SELECT md5('agg-' || a)::uuid, 'Thing', v, 'Happened', '{}' "
        "FROM generate_series(1, $1::int) a, generate_series($2::int, $2::int + $3::int - 1) v "
        "ORDER BY v, a",
        pg::Params(aggregates, first_version, count));
}

// Other tests' transactions on the cluster hold back the event horizon for a while: wait until
// every event written so far is below it, as the daemon's feed would look again.
void wait_for_the_horizon(pg::Connection& conn) {
    ASSERT_TRUE(testing::wait_until(
        [&] {
            return conn
                .exec("SELECT (SELECT max(transaction_id) FROM events) < sluice.event_horizon()")
                .boolean(0, 0);
        },
        std::chrono::seconds(60)))
        << "an open transaction held the event horizon below the events for 60 s";
}

struct CatchUp {
    std::int64_t rows_read = 0;
    int calls = 0;
    std::string last_tx = "0";
    std::int64_t last_id = 0;
};

// Runs a part's catch-up until a short read, from where it stands. The parts share one
// connection here, and with it the function's name: (re)create this part's first.
void catch_up(pg::Connection& conn, const ApplyFunction& f, const std::string& name,
              CatchUp& state) {
    conn.exec_script(f.create_sql);
    while (true) {
        auto r = conn.exec(f.catch_up_sql,
                           pg::Params(name, state.last_tx, state.last_id, limit, std::string()));
        ++state.calls;
        state.rows_read += r.int64(0, 0);
        state.last_tx = std::string(r.text(0, 2));
        state.last_id = r.int64(0, 3);
        if (r.int64(0, 0) < limit)
            return;
        ASSERT_LT(state.calls, 10000) << name << " does not reach the head";
    }
}

class PartRead : public ::testing::Test {
  protected:
    void SetUp() override {
        conn_.exec_script(
            "CREATE TABLE applied (seq bigserial PRIMARY KEY, event_id bigint NOT NULL, "
            "aggregate_id uuid NOT NULL, version int NOT NULL)");
        for (int i = 0; i < parts; ++i) {
            conn_.exec("INSERT INTO sluice.checkpoints (name) VALUES ($1)",
                       pg::Params(part_name("recorder", {i, parts})));
        }
    }

    // Writes 40 aggregates' events in several transactions, two of which take their ids in one
    // order and commit in the other, and one of which is still open while every part catches up
    // once (its events and those of a later transaction are held back, not skipped). Then
    // every part catches up to the end.
    std::map<int, CatchUp> run_parts() {
        std::map<int, ApplyFunction> functions;
        for (int i = 0; i < parts; ++i)
            functions[i] = apply_function(recording_projection(), table, {i, parts});
        append(conn_, 40, 1, 3);
        wait_for_the_horizon(conn_);
        auto early = db_.connect();  // takes its transaction id first, writes later
        early.exec("BEGIN");
        early.exec("SELECT pg_current_xact_id()");
        append(conn_, 40, 4, 2);  // a higher transaction id, lower event ids, committed first
        std::map<int, CatchUp> state;
        for (int i = 0; i < parts; ++i)
            catch_up(conn_, functions[i], part_name("recorder", {i, parts}), state[i]);
        append(early, 40, 6, 2);
        early.exec("COMMIT");
        append(conn_, 40, 8, 1);
        wait_for_the_horizon(conn_);
        for (int i = 0; i < parts; ++i)
            catch_up(conn_, functions[i], part_name("recorder", {i, parts}), state[i]);
        return state;
    }

    // Each part's applied events, in the order applied, against its events in commit order.
    void expect_each_part_applied_its_events_in_commit_order() {
        auto all =
            conn_.exec("SELECT id, aggregate_id::text FROM events ORDER BY transaction_id, id");
        std::map<int, std::vector<std::int64_t>> expected;
        for (int i = 0; i < all.rows(); ++i)
            expected[part_of(all.text(i, 1), parts)].push_back(all.int64(i, 0));
        auto applied = conn_.exec("SELECT event_id, aggregate_id::text FROM applied ORDER BY seq");
        std::map<int, std::vector<std::int64_t>> got;
        for (int i = 0; i < applied.rows(); ++i)
            got[part_of(applied.text(i, 1), parts)].push_back(applied.int64(i, 0));
        ASSERT_EQ(applied.rows(), all.rows()) << "every event applied exactly once";
        for (int k = 0; k < parts; ++k)
            EXPECT_EQ(got[k], expected[k]) << "part " << k << ": events or their order differ";
        // The early transaction's events (versions 6, 7: the higher ids) come before versions
        // 4 and 5 in commit order, so the check above covers ids out of commit order.
        auto swapped = conn_.exec(
            "SELECT (SELECT min(id) FROM events WHERE version = 6) > "
            "(SELECT max(id) FROM events WHERE version = 4), "
            "(SELECT min(transaction_id) FROM events WHERE version = 6) < "
            "(SELECT max(transaction_id) FROM events WHERE version = 4)");
        ASSERT_TRUE(swapped.boolean(0, 0) && swapped.boolean(0, 1))
            << "the data set lacks events whose ids are out of commit order";
    }

    void expect_every_checkpoint_at_the_last_event(const std::map<int, CatchUp>& state) {
        // Qualified: ORDER BY transaction_id alone would sort by the text output column, and
        // "942" follows "1039" as text.
        auto last = conn_.exec(
            "SELECT e.transaction_id::text, e.id FROM events e "
            "ORDER BY e.transaction_id DESC, e.id DESC LIMIT 1");
        for (const auto& [k, s] : state) {
            EXPECT_EQ(s.last_tx, last.text(0, 0)) << "part " << k;
            EXPECT_EQ(s.last_id, last.int64(0, 1)) << "part " << k;
            auto stored = conn_.exec(
                "SELECT transaction_id::text, event_id FROM sluice.checkpoints WHERE name = $1",
                pg::Params(part_name("recorder", {k, parts})));
            EXPECT_EQ(stored.text(0, 0), last.text(0, 0)) << "part " << k;
            EXPECT_EQ(stored.int64(0, 1), last.int64(0, 1)) << "part " << k;
        }
    }

    std::int64_t events_of_part(int k) {
        auto r = conn_.exec("SELECT aggregate_id::text FROM events");
        std::int64_t n = 0;
        for (int i = 0; i < r.rows(); ++i)
            n += part_of(r.text(i, 0), parts) == k;
        return n;
    }

    testing::TestDatabase db_ = [] {
        auto db = testing::TestDatabase::create();
        db.migrate();
        return db;
    }();
    pg::Connection conn_ = db_.connect();
};

TEST_F(PartRead, WithThePartIndexAPartReadsOnlyItsOwnEventsAndAppliesThemInCommitOrder) {
    conn_.exec(create_part_index_sql(table, parts));
    auto state = run_parts();
    expect_each_part_applied_its_events_in_commit_order();
    expect_every_checkpoint_at_the_last_event(state);
    auto total = conn_.exec("SELECT count(*) FROM events").int64(0, 0);
    for (const auto& [k, s] : state) {
        EXPECT_EQ(s.rows_read, events_of_part(k))
            << "part " << k << " read rows of other parts (" << total << " events in all)";
    }
}

// What the index scans say, not only what the read returns: a plan that walked the position
// index and filtered the other parts away would return the same rows.
TEST_F(PartRead, APartsReadScansOnlyItsOwnEntriesOfThePartIndex) {
    conn_.exec(create_part_index_sql(table, parts));
    append(conn_, 40, 1, 10);
    wait_for_the_horizon(conn_);
    const Part part{1, parts};
    auto f = apply_function(recording_projection(), table, part);
    conn_.exec_script(f.create_sql);
    // An index's counter also holds what this backend's earlier transactions read and had not
    // reported yet (wait_for_the_horizon's polls): count from the start of this transaction,
    // inside which nothing is reported.
    const auto entries_scanned = [&] {
        auto scanned = conn_.exec(
            "SELECT relname, pg_stat_get_xact_tuples_returned(oid) FROM pg_class "
            "WHERE relname IN ('events_sluice_part3_idx', 'events_sluice_position_idx')");
        std::map<std::string, std::int64_t> out;
        for (int i = 0; i < scanned.rows(); ++i)
            out[std::string(scanned.text(i, 0))] = scanned.int64(i, 1);
        return out;
    };
    conn_.exec("BEGIN");
    auto before = entries_scanned();
    auto r = conn_.exec(f.catch_up_sql, pg::Params(part_name("recorder", part), std::string("0"),
                                                   std::int64_t{0}, 1000, std::string()));
    auto after = entries_scanned();
    conn_.exec("ROLLBACK");
    std::map<std::string, std::int64_t> read;
    for (const auto& [index, n] : after)
        read[index] = n - before[index];
    const auto own = events_of_part(part.index);
    EXPECT_EQ(r.int64(0, 0), own);
    EXPECT_EQ(read["events_sluice_part3_idx"], own) << "entries of the part index scanned";
    // The position index only answers lookups of one row: the horizon's probes (is a row at or
    // above a bound?) and the last event below the horizon, which the checkpoint moves to. The
    // other parts' 260-odd events are never scanned.
    EXPECT_LE(read["events_sluice_position_idx"], 5) << "entries of the position index scanned";
}

TEST_F(PartRead, WithoutThePartIndexAPartReadsEveryEventAndAppliesTheSameOnes) {
    auto state = run_parts();
    expect_each_part_applied_its_events_in_commit_order();
    expect_every_checkpoint_at_the_last_event(state);
    auto total = conn_.exec("SELECT count(*) FROM events").int64(0, 0);
    for (const auto& [k, s] : state)
        EXPECT_EQ(s.rows_read, total) << "part " << k;
}

// build_part_index as `sluice run` starts it: to completion on an io_context of its own.
void build(const testing::TestDatabase& db) {
    boost::asio::io_context io;
    PartIndexBuild b;
    b.url = db.url();
    b.quoted_events_table = table;
    b.count = parts;
    bool done = false;
    boost::asio::co_spawn(io, build_part_index(std::move(b)),
                          [&](std::exception_ptr e) { done = !e; });
    io.run_for(std::chrono::seconds(60));
    ASSERT_TRUE(done) << "build_part_index did not finish within 60 s";
}

// Whether the part index exists, and whether it is valid.
std::pair<bool, bool> part_index_state(pg::Connection& conn) {
    auto r = conn.exec("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
                       pg::Params(part_index_name(table, parts)));
    return {r.rows() == 1, r.rows() == 1 && r.boolean(0, 0)};
}

TEST_F(PartRead, TheDaemonsBuilderCreatesTheIndexAndReplacesAnInvalidOne) {
    ASSERT_FALSE(part_index_state(conn_).first);
    build(db_);
    EXPECT_EQ(part_index_state(conn_), std::make_pair(true, true)) << "built";
    // What an interrupted CREATE INDEX CONCURRENTLY leaves: an invalid index (the test cluster's
    // superuser marks it so). No build works on it: the builder drops it and builds it again.
    conn_.exec("UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass($1)",
               pg::Params(part_index_name(table, parts)));
    ASSERT_EQ(part_index_state(conn_), std::make_pair(true, false));
    build(db_);
    EXPECT_EQ(part_index_state(conn_), std::make_pair(true, true)) << "rebuilt";
    // And the parts use it.
    auto state = run_parts();
    expect_each_part_applied_its_events_in_commit_order();
    for (const auto& [k, s] : state)
        EXPECT_EQ(s.rows_read, events_of_part(k)) << "part " << k;
}

TEST(PartIndex, IsNamedAfterTheTableInItsSchema) {
    EXPECT_EQ(part_index_name("\"events\"", 6), "\"events_sluice_part6_idx\"");
    EXPECT_EQ(part_index_name("\"app\".\"events\"", 4), "\"app\".\"events_sluice_part4_idx\"");
    EXPECT_EQ(create_part_index_sql("\"app\".\"events\"", 4),
              "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"events_sluice_part4_idx\" ON "
              "\"app\".\"events\" (sluice.event_part(aggregate_id, 4), transaction_id, id)");
}

}  // namespace
}  // namespace sluice::projections
