// Commit order, end to end: an event whose transaction is still open holds back every event of a
// later transaction (sluice never skips past it), and within one transaction an aggregate's
// versions are applied in version order even when their ids say otherwise.
#include <thread>

#include "daemon_fixture.hpp"

namespace sluice::testing {
namespace {

// Records every applied event with a sequence number, so the test sees the order of application.
const std::string applied_projection = R"(
projections:
  - name: recorder
    setup: |
      CREATE TABLE IF NOT EXISTS applied (event_id bigint PRIMARY KEY, aggregate_id uuid,
        version int, seq bigint NOT NULL);
      CREATE SEQUENCE IF NOT EXISTS applied_seq;
    handlers:
      E: |
        INSERT INTO applied (event_id, aggregate_id, version, seq)
        VALUES (:id, :aggregate_id, :version, nextval('applied_seq'))
    on_error: {retries: 0, then: stop}
)";

class Ordering : public DaemonTest {
  protected:
    std::int64_t seq_of(std::int64_t event_id) {
        return scalar("SELECT seq FROM applied WHERE event_id = $1", pg::Params(event_id));
    }
};

TEST_F(Ordering, AnOpenTransactionHoldsBackLaterCommitsUntilItCommits) {
    db_->migrate();
    auto daemon =
        DaemonProcess::start(write_file("sluice.yaml", base_config() + applied_projection));
    ASSERT_TRUE(wait_running(daemon, {"recorder"}));

    // Control: the pipeline delivers at all, so the silence below means something.
    Position warmup = insert_event("E");
    ASSERT_TRUE(wait_checkpoint("recorder", warmup, 10s)) << diagnose(daemon);

    auto conn_a = db_->connect();
    auto conn_b = db_->connect();
    conn_a.exec("BEGIN");
    auto ra = conn_a.exec(
        "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
        "VALUES (gen_random_uuid(), 'Test', 1, 'E', '{}') RETURNING transaction_id::text, id");
    Position a{std::stoull(std::string(ra.text(0, 0))), ra.int64(0, 1)};
    auto rb = conn_b.exec(
        "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
        "VALUES (gen_random_uuid(), 'Test', 1, 'E', '{}') RETURNING transaction_id::text, id");
    Position b{std::stoull(std::string(rb.text(0, 0))), rb.int64(0, 1)};
    ASSERT_LT(a.id, b.id);
    ASSERT_LT(a.transaction_id, b.transaction_id) << "B committed with a later transaction id";

    // B is committed and visible to every reader, but A is open with a lower transaction id:
    // applying B now would put it before A forever. For 2 s (many polls and a NOTIFY), sluice
    // must not move past the warm-up event.
    auto fetches_before = status(daemon).fetches;
    auto deadline = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < deadline) {
        ASSERT_EQ(scalar("SELECT count(*) FROM applied WHERE event_id = $1", pg::Params(b.id)), 0)
            << "B was applied while A (lower transaction id) was still open";
        auto cp = checkpoint("recorder");
        ASSERT_TRUE(cp);
        ASSERT_EQ(*cp, warmup) << "checkpoint moved past A's position while A was open";
        std::this_thread::sleep_for(50ms);  // sampling interval of an assertion, not a sync
    }
    auto held = status(daemon);
    EXPECT_GT(held.fetches, fetches_before) << "sluice did not even look while A was open";
    EXPECT_EQ(held.subscriber("recorder")->position, warmup);

    conn_a.exec("COMMIT");
    ASSERT_TRUE(wait_checkpoint("recorder", b, 10s))
        << "after A committed, the checkpoint should end at B " << b.to_string() << "\n"
        << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM applied"), 3);
    EXPECT_LT(seq_of(warmup.id), seq_of(a.id));
    EXPECT_LT(seq_of(a.id), seq_of(b.id)) << "A must be applied before B";
    EXPECT_EQ(status(daemon).subscriber("recorder")->position, b);
}

TEST_F(Ordering, VersionsOfOneAggregateWithinATransactionApplyInVersionOrder) {
    db_->migrate();
    auto daemon =
        DaemonProcess::start(write_file("sluice.yaml", base_config() + applied_projection));
    ASSERT_TRUE(wait_running(daemon, {"recorder"}));

    // One transaction inserts, in this id order: X v2, Y v1, X v1, Y v3, Y v2, X v3.
    // UNIQUE(aggregate_id, version) holds row by row, so the reversed order is legal.
    const std::string x = "11111111-1111-4111-8111-111111111111";
    const std::string y = "22222222-2222-4222-8222-222222222222";
    std::vector<std::pair<std::string, int>> inserts{{x, 2}, {y, 1}, {x, 1},
                                                     {y, 3}, {y, 2}, {x, 3}};
    conn().exec("BEGIN");
    for (const auto& [agg, version] : inserts) {
        conn().exec(
            "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
            "VALUES ($1::uuid, 'Test', $2::int, 'E', '{}')",
            pg::Params(agg, version));
    }
    conn().exec("COMMIT");
    ASSERT_TRUE(wait_checkpoint("recorder", head(), 10s)) << diagnose(daemon);
    ASSERT_EQ(scalar("SELECT count(*) FROM applied"), 6);

    for (const auto& agg : {x, y}) {
        auto r = conn().exec("SELECT version FROM applied WHERE aggregate_id = $1 ORDER BY seq",
                             pg::Params(agg));
        std::vector<int> order;
        for (int i = 0; i < r.rows(); ++i)
            order.push_back(static_cast<int>(r.int64(i, 0)));
        EXPECT_EQ(order, (std::vector<int>{1, 2, 3})) << "aggregate " << agg;
    }
    // The aggregates' slots are kept: X's first slot (the first event) gets X v1.
    auto first =
        conn().exec("SELECT aggregate_id::text, version FROM applied ORDER BY seq LIMIT 1");
    EXPECT_EQ(first.text(0, 0), x);
    EXPECT_EQ(first.int64(0, 1), 1);
}

// Regression test (fixed in ed4e21d): fetch_sql() selected `transaction_id::text` and ordered by
// a bare `transaction_id`, which names the text OUTPUT column, so "100000" sorted before "99999".
// A batch spanning a power of ten was applied out of commit order and its checkpoint set to the
// textually last row, so rows were applied twice (or skipped, with a full batch).
TEST_F(Ordering, TransactionIdsAreOrderedNumericallyAcrossAPowerOfTen) {
    db_->migrate();
    auto daemon =
        DaemonProcess::start(write_file("sluice.yaml", base_config() + applied_projection));
    ASSERT_TRUE(wait_running(daemon, {"recorder"}));

    // Transaction ids are cluster-wide; burn them (cheaply: one COMMIT per id) until the next
    // power of ten is a few transactions away, then commit events across it.
    std::int64_t current = scalar("SELECT pg_current_xact_id()::text::bigint");
    std::int64_t boundary = 10;
    while (boundary <= current + 100)
        boundary *= 10;
    if (boundary - current > 1'000'000) {
        // About 20 s of burning per million; a fresh cluster (scripts/pg start) is far below.
        GTEST_SKIP() << "the next power of ten is " << boundary - current
                     << " transaction ids away; run on a younger cluster";
    }
    // Other tests use ids meanwhile: approach in shrinking steps, the last one a few ids long,
    // so the burn does not overshoot the boundary.
    while (true) {
        std::int64_t gap = boundary - 60 - scalar("SELECT pg_current_xact_id()::text::bigint");
        if (gap <= 0)
            break;
        std::int64_t step = gap > 400 ? std::min<std::int64_t>(gap - 300, 100000) : gap;
        conn().exec_script("DO $$ BEGIN FOR i IN 1.." + std::to_string(step) +
                           " LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$");
    }
    // An open transaction with a lower id holds them all back, so that they become visible
    // together and one fetch spans the power of ten.
    auto holder = db_->connect();
    holder.exec("BEGIN");
    holder.exec("SELECT pg_current_xact_id()");
    std::vector<Position> inserted;
    for (int i = 0; i < 120; ++i)
        inserted.push_back(insert_event("E"));
    holder.exec("COMMIT");
    ASSERT_LT(inserted.front().transaction_id, static_cast<std::uint64_t>(boundary));
    ASSERT_GE(inserted.back().transaction_id, static_cast<std::uint64_t>(boundary))
        << "the events did not straddle " << boundary << "; the premise of the test failed";

    ASSERT_TRUE(wait_checkpoint("recorder", inserted.back(), 10s))
        << "checkpoint at "
        << (checkpoint("recorder") ? checkpoint("recorder")->to_string() : "none") << ", wanted "
        << inserted.back().to_string() << "\n"
        << diagnose(daemon);
    EXPECT_EQ(status(daemon).subscriber("recorder")->state, "running")
        << status(daemon).subscriber("recorder")->last_error;
    EXPECT_EQ(scalar("SELECT count(*) FROM applied"), 120);
    // Applied in commit order: numeric transaction id, then id.
    EXPECT_EQ(
        scalar("SELECT count(*) FROM (SELECT a.seq, row_number() OVER (ORDER BY a.seq) AS by_seq, "
               "row_number() OVER (ORDER BY e.transaction_id, e.id) AS by_position "
               "FROM applied a JOIN events e ON e.id = a.event_id) x "
               "WHERE by_seq <> by_position"),
        0)
        << "events were applied out of commit order";
}

}  // namespace
}  // namespace sluice::testing
