// `sluice migrate` against a real PostgreSQL: idempotent, safe from concurrent processes,
// non-destructive on the seed's existing table, and complete on a fresh database.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "sluice_process.hpp"
#include "store/migrations.hpp"
#include "store_support.hpp"
#include "test_database.hpp"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr auto notify_timeout = std::chrono::seconds(10);

// The report line of a run that applied `applied` steps and found the rest present.
std::string up_to_date(std::size_t applied) {
    std::size_t all = store::migrations({}).size();
    return "schema up to date (" + std::to_string(applied) + " applied, " +
           std::to_string(all - applied) + " already present)";
}

ProcessResult migrate(const TestDatabase& db) {
    return run_sluice({"migrate", "--database-url", db.url()});
}

std::string last_line(const std::string& text) {
    auto lines = lines_of(text);
    return lines.empty() ? std::string() : lines.back();
}

// Fills the seed table with 10,000 rows of varied content, including NULL timestamps and
// NULL metadata, as an application would have left it.
void fill_seed_table(pg::Connection& conn) {
    conn.exec_script(R"SQL(
INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload, timestamp, metadata)
SELECT md5((g / 10)::text)::uuid, 'Order', g % 10 + 1, 'Event' || (g % 3),
       jsonb_build_object('n', g, 'text', repeat('x', g % 5), 'nested', jsonb_build_array(g, 'a')),
       CASE WHEN g % 11 = 0 THEN NULL
            ELSE timestamptz '2024-01-01 00:00:00+00' + g * interval '1.000123 second' END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE jsonb_build_object('by', 'seed', 'g', g) END
  FROM generate_series(0, 9999) g;
)SQL");
}

std::string insert_rows_sql(int rows) {
    return "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
           "SELECT gen_random_uuid(), 'Order', 1, 'Created', jsonb_build_object('n', g) "
           "FROM generate_series(1, " +
           std::to_string(rows) + ") g";
}

TEST(Migrate, RunTwiceLeavesTheSameSchemaAndReportsNothingToApply) {
    auto db = TestDatabase::create();
    auto first = migrate(db);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(last_line(first.out), up_to_date(store::migrations({}).size()));
    auto conn = db.connect();
    std::string after_first = schema_snapshot(conn);

    auto second = migrate(db);
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ(second.err, "");
    EXPECT_EQ(last_line(second.out), up_to_date(0));
    EXPECT_EQ(schema_snapshot(conn), after_first);
}

TEST(Migrate, FromTwoProcessesAtOnceBothSucceedWithTheSchemaOfASingleRun) {
    auto reference = TestDatabase::create();
    ASSERT_EQ(migrate(reference).exit_code, 0);
    auto reference_conn = reference.connect();
    std::string expected = schema_snapshot(reference_conn);

    auto db = TestDatabase::create();
    auto a = SluiceProcess::start({"migrate", "--database-url", db.url()});
    auto b = SluiceProcess::start({"migrate", "--database-url", db.url()});
    auto ra = a.wait();
    auto rb = b.wait();
    EXPECT_EQ(ra.exit_code, 0) << ra.err;
    EXPECT_EQ(rb.exit_code, 0) << rb.err;
    EXPECT_EQ(ra.err, "");
    EXPECT_EQ(rb.err, "");
    // The advisory lock serialises them: one applies everything, the other finds it done.
    EXPECT_THAT((std::vector{last_line(ra.out), last_line(rb.out)}),
                UnorderedElementsAre(up_to_date(store::migrations({}).size()), up_to_date(0)));

    auto conn = db.connect();
    std::string actual = schema_snapshot(conn);
    EXPECT_EQ(actual, expected);
    EXPECT_THAT(actual, HasSubstr("trigger CREATE TRIGGER sluice_notify AFTER INSERT ON "
                                  "public.events FOR EACH STATEMENT"));
}

TEST(Migrate, KeepsEveryRowOfAnExistingSerialTable) {
    auto db = TestDatabase::create();
    auto conn = db.connect();
    conn.exec_script(seed_events_sql);
    fill_seed_table(conn);
    RowsChecksum before = seed_columns_checksum(conn);
    ASSERT_EQ(before.rows, 10000);

    auto result = migrate(db);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(seed_columns_checksum(conn), before);
    // The seed's id stays what it was; the rows' ids are untouched.
    EXPECT_EQ(conn.exec("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = 'events'::regclass AND attname = 'id'")
                  .text(0, 0),
              "integer");
}

TEST(Migrate, AddsTransactionIdItsIndexAndTheTriggerToAnExistingSerialTable) {
    auto db = TestDatabase::create();
    auto conn = db.connect();
    conn.exec_script(seed_events_sql);
    fill_seed_table(conn);
    ASSERT_EQ(migrate(db).exit_code, 0);

    auto column = conn.exec(
        "SELECT format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
        "WHERE attrelid = 'events'::regclass AND attname = 'transaction_id' AND NOT attisdropped");
    ASSERT_EQ(column.rows(), 1) << "events.transaction_id was not added";
    EXPECT_EQ(column.text(0, 0), "xid8");
    EXPECT_TRUE(column.boolean(0, 1)) << "transaction_id must be NOT NULL";
    EXPECT_EQ(conn.exec("SELECT count(*) FROM events WHERE transaction_id IS NULL").int64(0, 0), 0);

    auto index = conn.exec(R"SQL(
SELECT count(*) FROM pg_index i
 WHERE i.indrelid = 'events'::regclass
   AND ARRAY(SELECT a.attname::text
               FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              ORDER BY k.ord) = ARRAY['transaction_id', 'id']
)SQL");
    EXPECT_EQ(index.int64(0, 0), 1) << "expected one index on events (transaction_id, id)";

    auto triggers = conn.exec(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
        "WHERE tgrelid = 'events'::regclass AND NOT tgisinternal");
    ASSERT_EQ(triggers.rows(), 1);
    EXPECT_EQ(triggers.text(0, 0),
              "CREATE TRIGGER sluice_notify AFTER INSERT ON public.events FOR EACH STATEMENT "
              "EXECUTE FUNCTION sluice.notify_events('sluice_events')");
}

TEST(Migrate, MakesEachInsertStatementOnASerialTableNotifyExactlyOnce) {
    auto db = TestDatabase::create();
    auto conn = db.connect();
    conn.exec_script(seed_events_sql);
    fill_seed_table(conn);
    ASSERT_EQ(migrate(db).exit_code, 0);

    auto listener = db.connect();
    NotificationCounter counter(listener, "sluice_events");
    auto writer = db.connect();

    writer.exec(insert_rows_sql(5));
    EXPECT_EQ(counter.count_until_sentinel(writer, notify_timeout), 1)
        << "one INSERT of 5 rows must notify once";

    writer.exec(insert_rows_sql(5));
    writer.exec(insert_rows_sql(1));
    EXPECT_EQ(counter.count_until_sentinel(writer, notify_timeout), 2)
        << "two INSERT statements must notify twice";

    EXPECT_EQ(count_events(conn), 10011);
}

TEST(Migrate, CreatesTheSeedTableWithABigserialIdOnAFreshDatabase) {
    auto db = TestDatabase::create();
    auto result = migrate(db);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    auto conn = db.connect();

    auto columns = conn.exec(
        "SELECT attname || ' ' || format_type(atttypid, atttypmod) || "
        "CASE WHEN attnotnull THEN ' not null' ELSE '' END FROM pg_attribute "
        "WHERE attrelid = 'events'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum");
    std::vector<std::string> actual;
    for (int i = 0; i < columns.rows(); ++i)
        actual.emplace_back(columns.text(i, 0));
    EXPECT_EQ(actual, (std::vector<std::string>{
                          "id bigint not null",
                          "aggregate_id uuid not null",
                          "aggregate_type character varying(255) not null",
                          "version integer not null",
                          "event_type character varying(255) not null",
                          "payload jsonb not null",
                          "timestamp timestamp with time zone",
                          "metadata jsonb",
                          "transaction_id xid8 not null",
                      }));

    auto id_sequence = conn.exec(
        "SELECT s.seqtypid::regtype::text FROM pg_sequence s "
        "WHERE s.seqrelid = pg_get_serial_sequence('events', 'id')::regclass");
    ASSERT_EQ(id_sequence.rows(), 1) << "events.id is not a serial column";
    EXPECT_EQ(id_sequence.text(0, 0), "bigint");
    EXPECT_EQ(conn.exec("SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
                        "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
                        "WHERE d.adrelid = 'events'::regclass AND a.attname = 'timestamp'")
                  .text(0, 0),
              "CURRENT_TIMESTAMP")
        << "timestamp defaults to CURRENT_TIMESTAMP as in the seed";

    auto constraints = conn.exec(
        "SELECT contype::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'events'::regclass ORDER BY contype, conname");
    std::vector<std::string> cons;
    for (int i = 0; i < constraints.rows(); ++i)
        cons.emplace_back(constraints.text(i, 0));
    EXPECT_EQ(cons,
              (std::vector<std::string>{"p PRIMARY KEY (id)", "u UNIQUE (aggregate_id, version)"}));

    auto indexes = conn.exec(
        "SELECT indexname || ': ' || indexdef FROM pg_indexes "
        "WHERE tablename = 'events' AND indexname LIKE 'idx_events_%' ORDER BY indexname");
    std::vector<std::string> idx;
    for (int i = 0; i < indexes.rows(); ++i)
        idx.emplace_back(indexes.text(i, 0));
    EXPECT_EQ(idx, (std::vector<std::string>{
                       "idx_events_aggregate_id: CREATE INDEX idx_events_aggregate_id ON "
                       "public.events USING btree (aggregate_id)",
                       "idx_events_timestamp: CREATE INDEX idx_events_timestamp ON public.events "
                       "USING btree (\"timestamp\")",
                   }));
}

TEST(Migrate, RecordsItsStepsAndCreatesTheCheckpointsTable) {
    auto db = TestDatabase::create();
    ASSERT_EQ(migrate(db).exit_code, 0);
    auto conn = db.connect();

    auto steps = conn.exec(
        "SELECT version || ' ' || target FROM sluice.schema_migrations ORDER BY version, target");
    std::vector<std::string> recorded;
    for (int i = 0; i < steps.rows(); ++i)
        recorded.emplace_back(steps.text(i, 0));
    std::vector<std::string> expected;
    for (const auto& m : store::migrations({}))
        expected.push_back(std::to_string(m.version) + " " + m.target);
    std::sort(expected.begin(), expected.end());
    std::sort(recorded.begin(), recorded.end());
    EXPECT_EQ(recorded, expected);
    EXPECT_THAT(recorded, ::testing::IsSupersetOf({"1 sluice", "2 events", "3 events"}));
    EXPECT_EQ(conn.exec("SELECT count(*) FROM sluice.schema_migrations "
                        "WHERE name = '' OR applied_at IS NULL")
                  .int64(0, 0),
              0);

    EXPECT_FALSE(conn.exec("SELECT to_regclass('sluice.checkpoints')").is_null(0, 0))
        << "sluice.checkpoints does not exist";
    EXPECT_EQ(conn.exec("SELECT count(*) FROM sluice.checkpoints").int64(0, 0), 0);
}

// A checkpoint from before migration 17 is simulated by undoing 17 (its columns and its record)
// on a migrated database: the counter of such a row starts at its position, where nothing of
// what it applied before is known, and the row counts on from there.
TEST(Migrate, StartsTheAppliedEventCounterOfAnOlderCheckpointAtItsPosition) {
    auto db = TestDatabase::create();
    ASSERT_EQ(migrate(db).exit_code, 0);
    auto conn = db.connect();
    conn.exec_script(
        "ALTER TABLE sluice.checkpoints DROP COLUMN applied_events, DROP COLUMN counted_from_tx, "
        "DROP COLUMN counted_from_id, DROP COLUMN counted_tx, DROP COLUMN counted_id;"
        "DELETE FROM sluice.schema_migrations WHERE version = 17;"
        "INSERT INTO sluice.checkpoints (name, transaction_id, event_id) VALUES ('old', '900', "
        "42)");

    auto again = migrate(db);
    ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
    EXPECT_EQ(last_line(again.out), up_to_date(1));
    auto row = conn.exec(
        "SELECT applied_events, counted_from_tx::text, counted_from_id, counted_tx::text, "
        "counted_id FROM sluice.checkpoints WHERE name = 'old'");
    ASSERT_EQ(row.rows(), 1);
    EXPECT_EQ(row.int64(0, 0), 0);
    EXPECT_EQ(row.text(0, 1), "900");
    EXPECT_EQ(row.int64(0, 2), 42);
    EXPECT_EQ(row.text(0, 3), "900");
    EXPECT_EQ(row.int64(0, 4), 42);

    // It counts on from there, and the counter follows the checkpoint.
    conn.exec("SELECT sluice.advance_checkpoint('old', '900', 42, '901', 50, 3)");
    row = conn.exec(
        "SELECT applied_events, counted_tx::text, counted_id, counted_from_id "
        "FROM sluice.checkpoints WHERE name = 'old'");
    EXPECT_EQ(row.int64(0, 0), 3);
    EXPECT_EQ(row.text(0, 1), "901");
    EXPECT_EQ(row.int64(0, 2), 50);
    EXPECT_EQ(row.int64(0, 3), 42);

    // A sluice from before migration 17 (a rolling upgrade) moves it without saying how many
    // events it applied: the count starts again after its new position.
    conn.exec("SELECT sluice.advance_checkpoint('old', '901', 50, '902', 60)");
    row = conn.exec(
        "SELECT applied_events, counted_from_tx::text, counted_from_id, counted_id "
        "FROM sluice.checkpoints WHERE name = 'old'");
    EXPECT_EQ(row.int64(0, 0), 0);
    EXPECT_EQ(row.text(0, 1), "902");
    EXPECT_EQ(row.int64(0, 2), 60);
    EXPECT_EQ(row.int64(0, 3), 60);
}

}  // namespace
}  // namespace sluice::testing
