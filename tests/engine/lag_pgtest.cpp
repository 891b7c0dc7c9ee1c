// The lag query against a real events table: exact below the count cap, an estimate from the ids
// above it (so that a backlog of millions costs one bounded count), zero at the head.
#include "engine/lag.hpp"

#include <gtest/gtest.h>

#include "test_database.hpp"

namespace sluice::engine {
namespace {

struct Lag {
    std::int64_t events = 0;
    double seconds = 0;
};

class LagQuery : public ::testing::Test {
  protected:
    void append(int count) {
        conn_.exec(
            "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload, "
            "timestamp) SELECT gen_random_uuid(), 'Thing', 1, 'Happened', '{}', "
            "now() - interval '1 hour' FROM generate_series(1, $1::int)",
            pg::Params(count));
    }

    // The lag of a subscriber standing at the `n`th event in commit order (0: before the first).
    Lag lag_at(std::int64_t n) {
        std::string tx = "0";
        std::int64_t id = 0;
        if (n > 0) {
            auto r = conn_.exec(
                "SELECT e.transaction_id::text, e.id FROM events e "
                "ORDER BY e.transaction_id, e.id OFFSET $1 - 1 LIMIT 1",
                pg::Params(n));
            tx = std::string(r.text(0, 0));
            id = r.int64(0, 1);
        }
        auto r = conn_.exec(
            "SELECT lag.lag_events, lag.lag_seconds FROM (VALUES ($1::xid8, $2::bigint)) "
            "p(transaction_id, event_id) CROSS JOIN LATERAL " +
                lag_lateral("events", "p") + " lag",
            pg::Params(tx, id));
        return {r.int64(0, 0), std::strtod(std::string(r.text(0, 1)).c_str(), nullptr)};
    }

    testing::TestDatabase db_ = [] {
        auto db = testing::TestDatabase::create();
        db.migrate();
        return db;
    }();
    pg::Connection conn_ = db_.connect();
};

TEST_F(LagQuery, IsExactBelowTheCapAndZeroAtTheHead) {
    append(250);
    append(250);
    EXPECT_EQ(lag_at(0).events, 500);
    EXPECT_EQ(lag_at(120).events, 380);
    EXPECT_GT(lag_at(120).seconds, 3000) << "the oldest waiting event is an hour old";
    auto head = lag_at(500);
    EXPECT_EQ(head.events, 0);
    EXPECT_EQ(head.seconds, 0);
}

TEST_F(LagQuery, AboveTheCapIsTheIdDistanceNeverLessThanTheCap) {
    append(static_cast<int>(lag_count_cap) + 2000);
    const auto total = lag_count_cap + 2000;
    EXPECT_EQ(lag_at(0).events, total) << "ids 1..N with no gaps: the estimate is exact";
    EXPECT_EQ(lag_at(1000).events, total - 1000);
    EXPECT_EQ(lag_at(3000).events, total - 3000) << "below the cap: counted";
    // Rolled-back inserts leave gaps in the ids: the estimate counts them, but never reports
    // less than the events counted.
    conn_.exec("BEGIN");
    append(5000);
    conn_.exec("ROLLBACK");
    append(10);
    EXPECT_EQ(lag_at(0).events, total + 10 + 5000) << "an estimate: the ids rolled back count";
    EXPECT_EQ(lag_at(3000).events, total + 10 - 3000) << "below the cap the count is exact";
}

}  // namespace
}  // namespace sluice::engine
