// `sluice append --file`: a bulk import of many aggregates is written completely, in file
// order per aggregate; a conflicting aggregate is reported and does not hold back the others.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "sluice_process.hpp"
#include "store/event_writer.hpp"
#include "store_support.hpp"
#include "test_database.hpp"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;

constexpr int aggregates = 500;
constexpr int events_each = 10;

std::string aggregate_id(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", n);
    return buf;
}

// Aggregates interleaved line by line: each aggregate's k-th line carries {"n": k}.
std::string jsonl(bool explicit_versions) {
    std::string text;
    for (int k = 1; k <= events_each; ++k) {
        for (int a = 0; a < aggregates; ++a) {
            text += R"({"aggregate_id":")" + aggregate_id(a) +
                    R"(","aggregate_type":"Order","event_type":"Step","payload":{"n":)" +
                    std::to_string(k) + "}";
            if (explicit_versions)
                text += R"(,"version":)" + std::to_string(k);
            text += "}\n";
        }
    }
    return text;
}

// Aggregates whose history is exactly versions 1..10 with payload n == version.
std::int64_t complete_aggregates(pg::Connection& conn) {
    return conn
        .exec(R"SQL(
SELECT count(*) FROM (
  SELECT array_agg(version ORDER BY version) AS versions,
         bool_and((payload->>'n')::int = version) AS in_file_order
    FROM events GROUP BY aggregate_id) a
 WHERE versions = ARRAY(SELECT generate_series(1, $1::int)) AND in_file_order
)SQL",
              pg::Params(events_each))
        .int64(0, 0);
}

TEST(BulkAppend, WritesFiveThousandEventsOverFiveHundredAggregatesAsVersionsOneToTen) {
    auto db = TestDatabase::create();
    db.migrate();
    TempFile file(jsonl(false));

    auto r = run_sluice({"append", "--database-url", db.url(), "--file", file.path()},
                        std::chrono::seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out, "appended 5000 events to 500 aggregates\n");

    auto conn = db.connect();
    EXPECT_EQ(count_events(conn), aggregates * events_each);
    EXPECT_EQ(complete_aggregates(conn), aggregates);
}

TEST(BulkAppend, ReportsTheOneConflictingAggregateAndWritesAllTheOthers) {
    auto db = TestDatabase::create();
    db.migrate();
    auto conn = db.connect();
    const int conflicted = 123;
    store::EventWriter w(conn);
    w.append(aggregate_id(conflicted), "Order", 0,
             {{"Imported", R"({"n":0})", std::nullopt, std::nullopt}});
    TempFile file(jsonl(true));

    auto r = run_sluice({"append", "--database-url", db.url(), "--file", file.path()},
                        std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_EQ(r.out, "appended 4990 events to 499 aggregates; 1 conflicts\n");
    auto err = lines_of(r.err);
    ASSERT_EQ(err.size(), 1u) << r.err;
    // The aggregate's first line in the file is line 124.
    EXPECT_EQ(err[0].rfind(file.path() + ":", 0), 0u) << err[0];
    EXPECT_THAT(err[0], HasSubstr("124"));
    EXPECT_THAT(err[0], HasSubstr("version conflict on aggregate " + aggregate_id(conflicted) +
                                  ": expected version 0, but it is at version 1"));

    EXPECT_EQ(count_events(conn), 1 + (aggregates - 1) * events_each);
    EXPECT_EQ(complete_aggregates(conn), aggregates - 1);
    EXPECT_EQ(conn.exec("SELECT count(*) FROM events WHERE aggregate_id = $1",
                        pg::Params(aggregate_id(conflicted)))
                  .int64(0, 0),
              1)
        << "nothing from the file may be written to the conflicting aggregate";
}

TEST(BulkAppend, RefusesAnAggregateStoredUnderAnotherTypeAndWritesAllTheOthers) {
    auto db = TestDatabase::create();
    db.migrate();
    auto conn = db.connect();
    const int other = 7;
    store::EventWriter w(conn);
    w.append(aggregate_id(other), "Seat", 0,
             {{"Reserved", R"({"n":0})", std::nullopt, std::nullopt}});
    TempFile file(jsonl(false));  // every line says "Order"

    auto r = run_sluice({"append", "--database-url", db.url(), "--file", file.path()},
                        std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_EQ(r.out, "appended 4990 events to 499 aggregates; 1 conflicts\n");
    EXPECT_EQ(r.err, file.path() + ":8: aggregate " + aggregate_id(other) +
                         " is of type Seat in the log, not Order\n");
    EXPECT_EQ(conn.exec("SELECT count(*) FROM events WHERE aggregate_id = $1",
                        pg::Params(aggregate_id(other)))
                  .int64(0, 0),
              1)
        << "nothing from the file may be written to the aggregate of another type";

    // The single-event form says the same and exits 2 (bad input), writing nothing.
    auto one = run_sluice({"append", "--database-url", db.url(), "--aggregate-id",
                           aggregate_id(other), "--aggregate-type", "Order", "--expected-version",
                           "1", "--type", "Created", "--payload", "{}"},
                          std::chrono::seconds(30));
    EXPECT_EQ(one.exit_code, 2) << one.err;
    EXPECT_EQ(one.err, "sluice append: aggregate " + aggregate_id(other) +
                           " is of type Seat in the log, not Order\n");
    EXPECT_EQ(count_events(conn), 1 + (aggregates - 1) * events_each);
}

TEST(BulkAppend, NeverWritesALineAtAVersionOtherThanTheOneItNames) {
    auto db = TestDatabase::create();
    db.migrate();
    const std::string id = aggregate_id(7);
    auto line = [&](int n, int version) {
        return R"({"aggregate_id":")" + id +
               R"(","aggregate_type":"Order","event_type":"Step","payload":{"n":)" +
               std::to_string(n) + R"(},"version":)" + std::to_string(version) + "}\n";
    };
    TempFile file(line(1, 1) + line(3, 3));

    auto r = run_sluice({"append", "--database-url", db.url(), "--file", file.path()});
    EXPECT_THAT(r.exit_code, ::testing::AnyOf(2, 3)) << r.out << r.err;
    EXPECT_THAT(r.err, ::testing::AnyOf(HasSubstr(":2:"), HasSubstr("line 2")))
        << "the message should name line 2";
    auto conn = db.connect();
    EXPECT_EQ(
        conn.exec("SELECT count(*) FROM events WHERE (payload->>'n')::int <> version").int64(0, 0),
        0)
        << "a line was written at a version it did not name";
}

TEST(BulkAppend, RejectsABadTimestampOnTheLastLineAndWritesNoneOfTheFile) {
    auto db = TestDatabase::create();
    db.migrate();
    std::string text;
    const int lines = 2500;  // more than one chunk of the writer
    for (int i = 0; i < lines; ++i) {
        text += R"({"aggregate_id":")" + aggregate_id(i) +
                R"(","aggregate_type":"Order","event_type":"Step","payload":{"n":1})" +
                (i == lines - 1 ? R"(,"timestamp":"not-a-time")" : "") + "}\n";
    }
    TempFile file(text);

    auto r = run_sluice({"append", "--database-url", db.url(), "--file", file.path()},
                        std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    EXPECT_THAT(r.err, ::testing::AnyOf(HasSubstr(":2500:"), HasSubstr("line 2500")))
        << "the message should name the line";
    auto conn = db.connect();
    EXPECT_EQ(count_events(conn), 0) << "lines before the bad one were written";
}

}  // namespace
}  // namespace sluice::testing
