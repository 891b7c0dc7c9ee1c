#include "outbox/envelope.hpp"

#include <gtest/gtest.h>

#include "outbox/signature.hpp"

namespace sluice::outbox {
namespace {

using namespace std::chrono;

WebhookEvent order_created() {
    WebhookEvent e;
    e.id = 42;
    e.aggregate_id = "6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77";
    e.aggregate_type = "Order";
    e.version = 1;
    e.event_type = "OrderCreated";
    e.payload = R"({"total": 12.50, "big": 123456789012345678901234567890, "note": "\"x\""})";
    e.metadata = R"({"user": "alice"})";
    e.timestamp =
        sys_days(year(2024) / 3 / 5) + hours(7) + minutes(8) + seconds(9) + microseconds(123456);
    return e;
}

config::Webhook hook() {
    config::Webhook w;
    w.name = "orders";
    w.url = "https://example.com/hooks";
    w.secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
    return w;
}

TEST(Envelope, BuildsTheExactBodyKeepingPayloadNumbersVerbatim) {
    EXPECT_EQ(
        build_body(order_created()),
        R"({"type":"OrderCreated","timestamp":"2024-03-05T07:08:09.123456Z",)"
        R"("data":{"id":42,"aggregate_id":"6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77",)"
        R"("aggregate_type":"Order","version":1,)"
        R"("payload":{"total": 12.50, "big": 123456789012345678901234567890, "note": "\"x\""},)"
        R"("metadata":{"user": "alice"}}})");
}

TEST(Envelope, WritesNullMetadataAndEscapesStrings) {
    auto e = order_created();
    e.metadata.reset();
    e.event_type = "Quote\"Type\n";
    auto body = build_body(e);
    EXPECT_NE(body.find(R"("type":"Quote\"Type\n")"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("metadata":null}})"), std::string::npos) << body;
}

TEST(Envelope, RejectsAPayloadThatIsNotJson) {
    auto e = order_created();
    e.payload = "{not json";
    EXPECT_THROW((void)build_body(e), std::invalid_argument);
}

TEST(Envelope, FormatsTimestampsInUtcWithMicroseconds) {
    EXPECT_EQ(format_timestamp(SysTime{}), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_timestamp(sys_days(year(1969) / 12 / 31) + hours(23) + microseconds(5)),
              "1969-12-31T23:00:00.000005Z");
}

TEST(Envelope, MessageIdIsStablePerWebhookAndEventWithoutDots) {
    EXPECT_EQ(message_id("orders", 42), "msg_orders_42");
    EXPECT_EQ(message_id("billing.v2 eu", 7), "msg_billing_v2_eu_7");
}

TEST(Envelope, BuildsTheSignedHeaderSetInOrder) {
    auto w = hook();
    w.headers = {{"X-Tenant", "acme"},
                 {"Webhook-Signature", "forged"},
                 {"User-Agent", "custom/1"},
                 {"X-Evil", "a\r\nInjected: yes"}};
    auto m = build_message(w, order_created(), 1700000000);

    ASSERT_EQ(m.headers.size(), 6u);
    EXPECT_EQ(m.headers[0], (std::pair<std::string, std::string>{"webhook-id", "msg_orders_42"}));
    EXPECT_EQ(m.headers[1].second, "1700000000");
    EXPECT_EQ(m.headers[2].first, "webhook-signature");
    EXPECT_TRUE(verify(m.id, m.timestamp, m.body, m.headers[2].second, w.secrets));
    EXPECT_EQ(m.headers[3].second, "application/json");
    EXPECT_EQ(m.headers[4], (std::pair<std::string, std::string>{"user-agent", "custom/1"}));
    EXPECT_EQ(m.headers[5], (std::pair<std::string, std::string>{"x-tenant", "acme"}));
}

TEST(Envelope, DefaultUserAgentNamesTheVersion) {
    auto m = build_message(hook(), order_created(), 1);
    EXPECT_EQ(m.headers[4].second, std::string("sluice/") + SLUICE_VERSION);
}

}  // namespace
}  // namespace sluice::outbox
