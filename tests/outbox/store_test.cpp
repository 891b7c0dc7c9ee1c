// The outbox's pure SQL builders: the JSON batch the record statement reads.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "outbox/store.hpp"

namespace sluice::outbox {
namespace {

using namespace std::chrono_literals;

TEST(RecordBatch, CarriesEveryAttemptWithNullsForAbsentValues) {
    std::vector<AttemptRecord> records = {
        {.outbox_id = 7,
         .verdict = Verdict::delivered,
         .status = 204,
         .duration_ms = 1.5,
         .response = ""},
        {.outbox_id = 8,
         .verdict = Verdict::retry,
         .retry_delay = 250ms,
         .error = "timed out after 5000 ms during response",
         .duration_ms = 5000},
    };
    auto rows = boost::json::parse(record_batch_json(records)).as_array();
    ASSERT_EQ(rows.size(), 2u);
    const auto& a = rows[0].as_object();
    EXPECT_EQ(a.at("id").as_int64(), 7);
    EXPECT_EQ(a.at("verdict").as_string(), "delivered");
    EXPECT_EQ(a.at("status").as_int64(), 204);
    EXPECT_TRUE(a.at("error").is_null());
    EXPECT_TRUE(a.at("response").is_null());
    EXPECT_DOUBLE_EQ(a.at("duration_ms").as_double(), 1.5);
    const auto& b = rows[1].as_object();
    EXPECT_EQ(b.at("verdict").as_string(), "retry");
    EXPECT_EQ(b.at("delay_ms").as_int64(), 250);
    EXPECT_TRUE(b.at("status").is_null());
    EXPECT_EQ(b.at("error").as_string(), "timed out after 5000 ms during response");
}

TEST(RecordBatch, ABatchedRequestIsOneAttemptNamingItsMembersInOrder) {
    std::vector<AttemptRecord> records = {
        {.members = {12, 10, 11}, .verdict = Verdict::delivered, .status = 200, .batch_id = 4}};
    auto rows = boost::json::parse(record_batch_json(records)).as_array();
    ASSERT_EQ(rows.size(), 1u);
    const auto& row = rows[0].as_object();
    EXPECT_FALSE(row.contains("id"));
    EXPECT_EQ(boost::json::serialize(row.at("ids")), "[12,10,11]");
    EXPECT_EQ(row.at("batch").as_int64(), 4);
}

TEST(RecordBatch, MakesErrorsStorableAsJsonb) {
    std::vector<AttemptRecord> records = {{.outbox_id = 1,
                                           .verdict = Verdict::dead,
                                           .error = std::string("bad\0byte\xff", 9),
                                           .duration_ms = 0}};
    auto rows = boost::json::parse(record_batch_json(records)).as_array();
    EXPECT_EQ(rows[0].at("error").as_string(),
              "bad\xEF\xBF\xBD"
              "byte\xEF\xBF\xBD");
}

config::Webhook orders() {
    config::Webhook w;
    w.name = "orders";
    return w;
}

TEST(RecordBatch, AnEmptyBatchNeedsNoStatement) {
    EXPECT_TRUE(record_steps(orders(), {}).empty());
}

TEST(RecordBatch, SaysWhatEachAttemptTellsOfTheEndpointsHealth) {
    std::vector<AttemptRecord> records = {
        {.outbox_id = 1, .verdict = Verdict::delivered, .health = EndpointHealth::ok},
        {.outbox_id = 2, .verdict = Verdict::retry, .health = EndpointHealth::failed},
        {.outbox_id = 3, .verdict = Verdict::dead}};
    auto rows = boost::json::parse(record_batch_json(records)).as_array();
    EXPECT_EQ(rows[0].at("health").as_string(), "ok");
    EXPECT_EQ(rows[1].at("health").as_string(), "failed");
    EXPECT_TRUE(rows[2].at("health").is_null()) << "no request was made";
}

TEST(RecordBatch, AGoneAnswerAlsoDisablesTheEndpoint) {
    std::vector<AttemptRecord> records = {
        {.outbox_id = 1, .verdict = Verdict::delivered, .status = 200},
        {.outbox_id = 2, .verdict = Verdict::disable, .status = 410}};
    auto steps = record_steps(orders(), records);
    ASSERT_EQ(steps.size(), 2u);
    EXPECT_NE(steps[1].sql_or_name.find("sluice.webhook_state"), std::string::npos);
}

}  // namespace
}  // namespace sluice::outbox
