// Temporal reads: an aggregate's history as it was at a point in time, through the library
// and through `sluice events --as-of`.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "sluice_process.hpp"
#include "store/event_writer.hpp"
#include "store_support.hpp"
#include "test_database.hpp"

namespace sluice::testing {
namespace {

const std::string aggregate = "3c9a1f4e-7b2d-4a6e-8f1c-2d3e4f5a6b7c";

struct ThreeEvents {
    std::vector<store::StoredEvent> events;
    std::string between_second_and_third;  // ISO 8601, strictly after #2 and before #3
};

// Appends Created, Paid, Shipped in three transactions and picks a time between #2 and #3.
ThreeEvents append_three(pg::Connection& conn) {
    store::EventWriter w(conn);
    int version = 0;
    for (const char* type : {"Created", "Paid", "Shipped"}) {
        version = w.append(
            aggregate, "Order", version,
            {{type, std::string("{\"step\":\"") + type + "\"}", std::nullopt, std::nullopt}});
    }
    ThreeEvents out;
    out.events = store::load(conn, aggregate);
    if (out.events.size() != 3)
        throw std::runtime_error("expected 3 events after appending");
    auto mid = conn.exec(
        "SELECT to_char(($1::timestamptz + ($2::timestamptz - $1::timestamptz) / 2) "
        "AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
        pg::Params(out.events[1].timestamp, out.events[2].timestamp));
    out.between_second_and_third = std::string(mid.text(0, 0));
    auto strictly = conn.exec(
        "SELECT $1::timestamptz < $2::timestamptz AND "
        "$2::timestamptz < $3::timestamptz",
        pg::Params(out.events[1].timestamp, out.between_second_and_third, out.events[2].timestamp));
    if (!strictly.boolean(0, 0)) {
        throw std::runtime_error("events 2 and 3 have no time strictly between them: " +
                                 out.events[1].timestamp + ", " + out.events[2].timestamp);
    }
    return out;
}

TEST(Load, AsOfATimeBetweenTwoEventsReturnsOnlyTheEarlierOnes) {
    auto db = TestDatabase::create();
    db.migrate();
    auto conn = db.connect();
    ThreeEvents h = append_three(conn);

    auto past = store::load(conn, aggregate, h.between_second_and_third);
    ASSERT_EQ(past.size(), 2u) << "as of " << h.between_second_and_third;
    EXPECT_EQ(past[0].version, 1);
    EXPECT_EQ(past[0].event_type, "Created");
    EXPECT_EQ(past[0].id, h.events[0].id);
    EXPECT_EQ(past[1].version, 2);
    EXPECT_EQ(past[1].event_type, "Paid");
    EXPECT_EQ(past[1].timestamp, h.events[1].timestamp);
}

TEST(Load, AsOfAnEventsOwnTimestampIncludesThatEvent) {
    auto db = TestDatabase::create();
    db.migrate();
    auto conn = db.connect();
    ThreeEvents h = append_three(conn);
    EXPECT_EQ(store::load(conn, aggregate, h.events[1].timestamp).size(), 2u);
    EXPECT_EQ(store::load(conn, aggregate, h.events[2].timestamp).size(), 3u);
}

TEST(EventsCommand, AsOfATimeBetweenTwoEventsPrintsOnlyTheEarlierOnesAsJsonLines) {
    auto db = TestDatabase::create();
    db.migrate();
    auto conn = db.connect();
    ThreeEvents h = append_three(conn);

    auto r = run_sluice({"events", "--database-url", db.url(), "--aggregate-id", aggregate,
                         "--as-of", h.between_second_and_third, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2u) << r.out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        boost::system::error_code ec;
        auto v = boost::json::parse(lines[i], ec);
        ASSERT_FALSE(ec) << "line " << i + 1 << " is not JSON: " << lines[i];
        const auto& o = v.as_object();
        const store::StoredEvent& expected = h.events[i];
        EXPECT_EQ(o.at("id").as_int64(), expected.id);
        EXPECT_EQ(o.at("aggregate_id").as_string(), aggregate);
        EXPECT_EQ(o.at("aggregate_type").as_string(), "Order");
        EXPECT_EQ(o.at("version").as_int64(), static_cast<std::int64_t>(i + 1));
        EXPECT_EQ(o.at("event_type").as_string(), expected.event_type);
        EXPECT_EQ(o.at("payload").at("step").as_string(), expected.event_type);
        EXPECT_TRUE(o.at("metadata").is_null());
        EXPECT_EQ(o.at("timestamp").as_string(), expected.timestamp);
    }
}

TEST(EventsCommand, TextLinesShowTheMetadataOfEventsThatCarryIt) {
    auto db = TestDatabase::create();
    db.migrate();
    auto conn = db.connect();
    store::EventWriter w(conn);
    w.append(aggregate, "Order", 0,
             {{"Created", R"({"step":"Created"})", R"({"user_id":"u-17","ip":"10.0.0.9"})",
               std::nullopt},
              {"Paid", R"({"step":"Paid"})", std::nullopt, std::nullopt}});

    auto r = run_sluice({"events", "--database-url", db.url(), "--aggregate-id", aggregate});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2u) << r.out;
    EXPECT_TRUE(lines[0].starts_with("v1  ")) << lines[0];
    EXPECT_TRUE(lines[0].ends_with(R"(  {"step": "Created"}  metadata={"ip": "10.0.0.9", )"
                                   R"("user_id": "u-17"})"))
        << lines[0];
    EXPECT_TRUE(lines[1].ends_with(R"(  Paid  {"step": "Paid"})")) << "no metadata: " << lines[1];
}

TEST(EventsCommand, RejectsAnAsOfThatIsNotATime) {
    auto db = TestDatabase::create();
    db.migrate();
    auto r = run_sluice({"events", "--database-url", db.url(), "--aggregate-id", aggregate,
                         "--as-of", "yesterday-ish"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("sluice events: --as-of 'yesterday-ish' is not a time: invalid input "
                          "syntax for type timestamp with time zone: \"yesterday-ish\"",
                          0),
              0u)
        << r.err;
}

TEST(EventsCommand, ReportsAnAsOfThatIsNotATimeOnOneLine) {
    auto db = TestDatabase::create();
    db.migrate();
    auto r = run_sluice({"events", "--database-url", db.url(), "--aggregate-id", aggregate,
                         "--as-of", "yesterday-ish"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
}

}  // namespace
}  // namespace sluice::testing
