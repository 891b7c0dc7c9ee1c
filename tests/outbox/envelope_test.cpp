#include "outbox/envelope.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "outbox/signature.hpp"
#include "outbox/trace_context.hpp"

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
        R"({"type":"OrderCreated","timestamp":"2024-03-05T07:08:09.123456Z","schema":1,)"
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

const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContext, ForwardsTheEventsTraceparentAndTracestate) {
    auto e = order_created();
    e.metadata = R"({"user": "alice", "traceparent": ")" + traceparent +
                 R"(", "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"})";
    auto w = hook();
    w.headers = {{"traceparent", "00-11111111111111111111111111111111-2222222222222222-01"},
                 {"X-Tenant", "acme"}};
    auto m = build_message(w, e, 1);
    ASSERT_EQ(m.headers.size(), 8u);
    EXPECT_EQ(m.headers[5], (std::pair<std::string, std::string>{"traceparent", traceparent}));
    EXPECT_EQ(m.headers[6], (std::pair<std::string, std::string>{
                                "tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"}));
    EXPECT_EQ(m.headers[7], (std::pair<std::string, std::string>{"x-tenant", "acme"}))
        << "the event's traceparent wins over a configured one";
}

TEST(TraceContext, LeavesOutWhatIsNotAValidTraceparentAndItsTracestate) {
    for (const std::string bad : {
             "",
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
             "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",    // upper case
             "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
             "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
             "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 has 4 fields
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx: y",
         }) {
        EXPECT_FALSE(valid_traceparent(bad)) << bad;
        std::string metadata = R"({"traceparent": )" +
                               boost::json::serialize(boost::json::string(bad)) +
                               R"(, "tracestate": "a=b"})";
        EXPECT_TRUE(trace_headers(metadata).empty()) << metadata;
    }
    EXPECT_TRUE(valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ext"))
        << "a later version may add fields";
    EXPECT_TRUE(trace_headers(R"({"traceparent": 7})").empty());
    EXPECT_TRUE(trace_headers(R"(["traceparent"])").empty());
    // A tracestate that could split the header block is dropped, the traceparent kept.
    auto h =
        trace_headers(R"({"traceparent": ")" + traceparent + R"(", "tracestate": "a=b\r\nx: y"})");
    ASSERT_EQ(h.size(), 1u);
    EXPECT_EQ(h[0].first, "traceparent");
}

}  // namespace
}  // namespace sluice::outbox
