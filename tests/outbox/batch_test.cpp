// The request of a batch, as pure functions: its id, its elements (the envelope plus the
// message's own id) and the signed array.
#include "outbox/batch.hpp"

#include <gtest/gtest.h>

#include "outbox/signature.hpp"

namespace sluice::outbox {
namespace {

using namespace std::chrono;

WebhookEvent event(std::int64_t id, std::string payload = R"({"total": 12.50})") {
    WebhookEvent e;
    e.id = id;
    e.aggregate_id = "6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77";
    e.aggregate_type = "Order";
    e.version = 1;
    e.event_type = "OrderPlaced";
    e.payload = std::move(payload);
    e.timestamp = sys_days(year(2024) / 3 / 5) + hours(7);
    return e;
}

config::Webhook hook() {
    config::Webhook w;
    w.name = "orders.eu";
    w.url = "https://example.com/hooks";
    w.secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
    w.batch.max_events = 10;
    return w;
}

TEST(Batch, IdFollowsTheMessageIdRulesWithItsOwnPrefix) {
    EXPECT_EQ(batch_message_id("orders.eu", 17), "batch_orders_eu_17");
}

TEST(Batch, AnElementIsTheEnvelopeWithTheMessagesOwnIdFirst) {
    const auto e = event(42);
    EXPECT_EQ(batch_element("orders.eu", e),
              R"({"id":"msg_orders_eu_42",)" + build_body(e).substr(1));
    EXPECT_THROW((void)batch_element("orders.eu", event(43, "{not json")), std::invalid_argument);
}

TEST(Batch, TheRequestIsOneSignedArrayUnderTheBatchId) {
    const auto webhook = hook();
    const std::vector<std::string> elements = {batch_element(webhook.name, event(1)),
                                               batch_element(webhook.name, event(2))};
    const auto m = build_batch_message(webhook, 5, elements, 1700000000);
    EXPECT_EQ(m.id, "batch_orders_eu_5");
    EXPECT_EQ(m.body, "[" + elements[0] + "," + elements[1] + "]");
    EXPECT_EQ(m.headers.at(0), (std::pair<std::string, std::string>{"webhook-id", m.id}));
    const auto& signature = m.headers.at(2);
    ASSERT_EQ(signature.first, "webhook-signature");
    EXPECT_TRUE(verify(m.id, m.timestamp, m.body, signature.second, webhook.secrets));
    EXPECT_FALSE(verify(m.id, m.timestamp, m.body.substr(1), signature.second, webhook.secrets))
        << "the signature covers the whole array";
}

}  // namespace
}  // namespace sluice::outbox
