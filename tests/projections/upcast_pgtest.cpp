// Event versioning: a read model built from a log that mixes old and new event shapes, read
// through upcasters, equals the read model of the same log written entirely in the new shape,
// on the batch path (the apply function called with event ids) and on the server-side catch-up,
// and so do sluice.aggregate_state and the snapshots of the same aggregates. The log holds each
// history twice: once in the new shape (aggregate new-g) and once in a random mix of three
// shapes (aggregate old-g), among them a type that was renamed since (Credited -> Deposited)
// and a chain in which the second upcaster reads what the first made. The stored events never
// change.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "config/config.hpp"
#include "engine/upcast.hpp"
#include "infra/pg/connection.hpp"
#include "projections/apply_function.hpp"
#include "projections/fold_function.hpp"
#include "projections/projection_sink.hpp"
#include "test_database.hpp"

namespace sluice::projections {
namespace {

const std::string table = "\"events\"";

// Shapes: Opened {"owner": n} (old) / {"holder": {"name": n}}; Deposited {"amount_cents": c}
// (old) / {"amount": a, "currency": k}; Credited {"cents": c} (the oldest name of a deposit).
const std::string config_text = R"YAML(
database:
  url: postgresql:///unused
upcasters:
  - event_type: Credited
    payload: jsonb_build_object('amount_cents', :payload->'cents')
    rename_to: Deposited
  - event_type: Deposited
    when: NOT :payload ? 'amount'
    payload: |
      jsonb_build_object('amount', round((:payload->>'amount_cents')::numeric / 100, 2),
                         'currency', coalesce(:metadata->>'currency', 'EUR'))
  - event_type: Opened
    when: :payload ? 'owner'
    payload: "jsonb_build_object('holder', jsonb_build_object('name', :payload->'owner'))"
projections:
  - name: accounts
    handlers:
      Opened: INSERT INTO TABLE (id, holder) VALUES (:aggregate_id, :payload->'holder'->>'name')
      Deposited: |
        UPDATE TABLE SET balance = balance + (:payload->>'amount')::numeric,
          deposits = deposits + 1, currency = :payload->>'currency' WHERE id = :aggregate_id
      Withdrawn: |
        UPDATE TABLE SET balance = balance - (:payload->>'amount')::numeric
        WHERE id = :aggregate_id
snapshots:
  - aggregate_type: Account
    initial: jsonb_build_object('balance', 0, 'deposits', 0)
    apply:
      Opened: ":state || jsonb_build_object('holder', :payload->'holder'->'name')"
      Deposited: |
        :state || jsonb_build_object(
          'balance', (:state->>'balance')::numeric + (:payload->>'amount')::numeric,
          'deposits', (:state->>'deposits')::int + 1, 'currency', :payload->'currency')
      Withdrawn: |
        :state || jsonb_build_object(
          'balance', (:state->>'balance')::numeric - (:payload->>'amount')::numeric)
    every: 4
)YAML";

// 400 histories of 1..25 events (Opened first), each written twice, in random interleaving
// transactions: new-g in the new shape, old-g in a random one of the shapes of its type.
const std::string generate_sql = R"SQL(
CREATE TABLE plan AS
  SELECT g, v,
         CASE WHEN v = 1 THEN 'Opened' WHEN random() < 0.7 THEN 'Deposited' ELSE 'Withdrawn' END
           AS kind,
         1 + floor(random() * 100000)::int AS cents, floor(random() * 3)::int AS shape,
         (ARRAY['EUR', 'USD'])[1 + floor(random() * 2)::int] AS currency
    FROM generate_series(1, 400) g, generate_series(1, 1 + (g * 7919) % 25) v;
CREATE TABLE pairs AS
  SELECT DISTINCT g, md5('new-' || g)::uuid AS new_id, md5('old-' || g)::uuid AS old_id FROM plan;
INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload, metadata)
  SELECT id, 'Account', v, event_type, payload, metadata FROM (
    SELECT p.new_id AS id, x.v, x.kind AS event_type,
           CASE x.kind
             WHEN 'Opened' THEN jsonb_build_object('holder', jsonb_build_object('name', 'n' || x.g))
             WHEN 'Deposited' THEN jsonb_build_object('amount', round(x.cents / 100.0, 2),
                                                      'currency', x.currency)
             ELSE jsonb_build_object('amount', round(x.cents / 100.0, 2)) END AS payload,
           NULL::jsonb AS metadata, random() AS r
      FROM plan x JOIN pairs p USING (g)
    UNION ALL
    SELECT p.old_id, x.v,
           CASE WHEN x.kind = 'Deposited' AND x.shape = 2 THEN 'Credited' ELSE x.kind END,
           CASE
             WHEN x.kind = 'Opened' AND x.shape > 0 THEN jsonb_build_object('owner', 'n' || x.g)
             WHEN x.kind = 'Opened' THEN jsonb_build_object('holder', jsonb_build_object('name', 'n' || x.g))
             WHEN x.kind = 'Deposited' AND x.shape = 1 THEN jsonb_build_object('amount_cents', x.cents)
             WHEN x.kind = 'Deposited' AND x.shape = 2 THEN jsonb_build_object('cents', x.cents)
             WHEN x.kind = 'Deposited' THEN jsonb_build_object('amount', round(x.cents / 100.0, 2),
                                                               'currency', x.currency)
             ELSE jsonb_build_object('amount', round(x.cents / 100.0, 2)) END,
           CASE WHEN x.kind = 'Deposited' AND x.shape > 0
                THEN jsonb_build_object('currency', x.currency) END,
           random()
      FROM plan x JOIN pairs p USING (g)) e
  ORDER BY id, v;
)SQL";

config::Config load() {
    auto loaded = config::load_string(config_text, "upcast.yaml", {});
    if (!loaded.config) {
        std::string all;
        for (const auto& d : loaded.errors)
            all += config::format(d) + "\n";
        throw std::runtime_error("config did not load:\n" + all);
    }
    return *loaded.config;
}

// The projection writing into `read_model`, named after it.
config::Projection projection_into(const config::Config& c, const std::string& read_model) {
    config::Projection p = c.projections.at(0);
    p.name = read_model;
    for (auto& h : p.handlers) {
        for (auto at = h.sql.find("TABLE"); at != std::string::npos; at = h.sql.find("TABLE"))
            h.sql.replace(at, 5, read_model);
    }
    return p;
}

class Upcasting : public ::testing::Test {
  protected:
    void SetUp() override {
        db_.migrate();
        conn_.exec_script(generate_sql);
        for (const std::string t : {"by_batch", "by_catch_up"}) {
            conn_.exec_script("CREATE TABLE " + t +
                              " (id uuid PRIMARY KEY, holder text, balance numeric NOT NULL "
                              "DEFAULT 0, deposits int NOT NULL DEFAULT 0, currency text)");
        }
        conn_.exec_script(upcast_.install_sql());
    }

    // Rows of `read_model` whose old-g twin differs from new-g (both directions), and how many
    // pairs there are.
    std::int64_t differing(const std::string& read_model) {
        const std::string of = "SELECT p.g, t.holder, t.balance, t.deposits, t.currency FROM " +
                               read_model + " t JOIN pairs p ON t.id = p.";
        return conn_
            .exec("SELECT count(*) FROM ((" + of + "new_id EXCEPT " + of + "old_id) UNION ALL (" +
                  of + "old_id EXCEPT " + of + "new_id)) d")
            .int64(0, 0);
    }

    std::int64_t scalar(const std::string& sql) { return conn_.exec(sql).int64(0, 0); }

    testing::TestDatabase db_ = testing::TestDatabase::create();
    pg::Connection conn_ = db_.connect();
    config::Config config_ = load();
    engine::Upcast upcast_{config_.upcasters, table};
};

TEST_F(Upcasting, TheLogHoldsEveryShapeAndKeepsIt) {
    // Otherwise the comparisons below would compare new shapes with new shapes.
    EXPECT_GT(scalar("SELECT count(*) FROM events WHERE event_type = 'Credited'"), 100);
    EXPECT_GT(scalar("SELECT count(*) FROM events WHERE payload ? 'amount_cents'"), 100);
    EXPECT_GT(scalar("SELECT count(*) FROM events WHERE payload ? 'owner'"), 100);
    const auto before =
        scalar("SELECT hashtext(string_agg(e::text, '' ORDER BY id)) FROM events e");
    auto f = apply_function(projection_into(config_, "by_batch"), table, {}, pg::Pooling::session,
                            upcast_);
    conn_.exec_script(f.create_sql);
    conn_.exec(
        f.call_sql,
        pg::Params(std::string(conn_
                                   .exec("SELECT array_agg(id ORDER BY transaction_id, id)::text "
                                         "FROM events")
                                   .text(0, 0)),
                   std::string("by_batch")));
    EXPECT_EQ(scalar("SELECT hashtext(string_agg(e::text, '' ORDER BY id)) FROM events e"), before)
        << "applying through upcasters changed stored events";
}

TEST_F(Upcasting, TheBatchPathBuildsTheSameReadModelFromOldAndNewShapes) {
    auto f = apply_function(projection_into(config_, "by_batch"), table, {}, pg::Pooling::session,
                            upcast_);
    conn_.exec_script(f.create_sql);
    // Batches of 100 events in commit order, as the runner hands them over.
    auto ids = conn_.exec(
        "SELECT array_agg(id ORDER BY transaction_id, id)::text FROM "
        "(SELECT id, transaction_id, (row_number() OVER (ORDER BY transaction_id, id) - 1) / 100 "
        "AS batch FROM events) b GROUP BY batch ORDER BY batch");
    ASSERT_GT(ids.rows(), 10);
    for (int i = 0; i < ids.rows(); ++i)
        conn_.exec(f.call_sql, pg::Params(std::string(ids.text(i, 0)), std::string("by_batch")));
    EXPECT_EQ(scalar("SELECT count(*) FROM by_batch"), 800);
    EXPECT_GT(scalar("SELECT count(*) FROM by_batch WHERE deposits > 0"), 400);
    EXPECT_EQ(differing("by_batch"), 0);
}

TEST_F(Upcasting, TheCatchUpBuildsTheSameReadModelFromOldAndNewShapes) {
    auto f = apply_function(projection_into(config_, "by_catch_up"), table, {},
                            pg::Pooling::session, upcast_);
    conn_.exec_script(f.create_sql);
    conn_.exec("INSERT INTO sluice.checkpoints (name) VALUES ('by_catch_up')");
    std::string tx = "0";
    std::int64_t id = 0;
    // The tests share one cluster: another test's open transaction can hold the newest events
    // back for a while (the horizon is cluster-wide), so go on until the head, within a bound.
    const auto last = scalar("SELECT max(id) FROM events");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (id != last) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline)
            << "the catch-up did not reach the head within 60 s; at event " << id;
        auto r = conn_.exec(f.catch_up_sql, pg::Params("by_catch_up", tx, id, 97, std::string()));
        tx = std::string(r.text(0, 2));
        id = r.int64(0, 3);
        if (r.int64(0, 0) == 0 && id != last)
            conn_.exec("SELECT pg_sleep(0.01)");  // held back: look again shortly
    }
    EXPECT_EQ(scalar("SELECT count(*) FROM by_catch_up"), 800);
    EXPECT_EQ(differing("by_catch_up"), 0);
}

TEST_F(Upcasting, AggregateStateAndSnapshotsAreTheSameForOldAndNewShapes) {
    const auto& fold = config_.snapshots.at(0);
    auto f = fold_function(fold, table, upcast_);
    conn_.exec_script(f.install_sql);
    const std::string states =
        "SELECT count(*) FROM pairs p, LATERAL sluice.aggregate_state('Account', p.new_id) n, "
        "LATERAL sluice.aggregate_state('Account', p.old_id) o "
        "WHERE (n.version, n.state) IS DISTINCT FROM (o.version, o.state) OR n.state IS NULL";
    EXPECT_EQ(scalar(states), 0) << "folded from the first event";
    // Snapshots at every 4th version, through the daemon's batch function.
    conn_.exec_script(f.take_sql);
    conn_.exec(f.call_sql,
               pg::Params(std::string(conn_
                                          .exec("SELECT array_agg(id ORDER BY aggregate_id, "
                                                "version)::text FROM events WHERE version % 4 = 0")
                                          .text(0, 0))));
    ASSERT_GT(scalar("SELECT count(*) FROM sluice.snapshots"), 400);
    const std::string of =
        "SELECT p.g, s.version, s.state FROM sluice.snapshots s "
        "JOIN pairs p ON s.aggregate_id = p.";
    EXPECT_EQ(scalar("SELECT count(*) FROM ((" + of + "new_id EXCEPT " + of +
                     "old_id) UNION ALL (" + of + "old_id EXCEPT " + of + "new_id)) d"),
              0)
        << "the snapshots of old-g and new-g differ";
    EXPECT_EQ(scalar(states), 0) << "from the snapshots";
    // The states agree with the read model's view of the same events.
    EXPECT_EQ(scalar("SELECT count(*) FROM pairs p, "
                     "LATERAL sluice.aggregate_state('Account', p.old_id) o "
                     "WHERE o.state->>'holder' <> 'n' || p.g"),
              0);
}

TEST_F(Upcasting, AProjectionWantsTheEventsOfATypeRenamedToOneItHandles) {
    ProjectionSink sink(projection_into(config_, "by_batch"), table, std::chrono::seconds(5), {},
                        pg::Pooling::session, upcast_);
    engine::EventRow row;
    row.aggregate_type = "Account";
    for (const std::string type : {"Credited", "Deposited", "Opened"}) {
        row.event_type = type;
        EXPECT_TRUE(sink.wants(row)) << type;
    }
    row.event_type = "Closed";
    EXPECT_FALSE(sink.wants(row));
}

}  // namespace
}  // namespace sluice::projections
