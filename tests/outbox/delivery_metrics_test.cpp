// The webhook delivery series: every outcome exists at zero from add(), recording goes
// straight into them, and remove() drops only that webhook.
#include "outbox/delivery_metrics.hpp"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

namespace sluice::outbox {
namespace {

using namespace std::chrono_literals;

std::string exposition(const prometheus::Registry& registry) {
    return prometheus::TextSerializer().Serialize(registry.Collect());
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(DeliveryMetrics, AddCreatesEverySeriesOfTheWebhookAtZero) {
    prometheus::Registry registry;
    DeliveryMetrics metrics(registry);
    (void)metrics.add("billing");
    const std::string text = exposition(registry);
    for (const auto outcome : outcome_labels) {
        EXPECT_TRUE(has_line(text, "sluice_outbox_attempts_total{outcome=\"" +
                                       std::string(outcome) + "\",webhook=\"billing\"} 0"))
            << outcome;
    }
    for (const char* name :
         {"sluice_outbox_pending", "sluice_outbox_in_flight", "sluice_outbox_dead",
          "sluice_webhook_disabled", "sluice_outbox_attempt_duration_seconds_count",
          "sluice_outbox_delivery_latency_seconds_count"}) {
        EXPECT_TRUE(has_line(text, std::string(name) + "{webhook=\"billing\"} 0")) << name;
    }
    EXPECT_TRUE(has_line(text,
                         "sluice_outbox_delivery_latency_seconds_bucket{webhook=\"billing\","
                         "le=\"86400\"} 0"))
        << text;
}

TEST(DeliveryMetrics, CircuitStateIsOneForTheCurrentStateOnly) {
    prometheus::Registry registry;
    DeliveryMetrics metrics(registry);
    auto m = metrics.add("billing");
    m.set_circuit(CircuitState::open);
    std::string text = exposition(registry);
    EXPECT_TRUE(
        has_line(text, "sluice_webhook_circuit_state{state=\"open\",webhook=\"billing\"} 1"))
        << text;
    EXPECT_TRUE(
        has_line(text, "sluice_webhook_circuit_state{state=\"closed\",webhook=\"billing\"} 0"));
    EXPECT_TRUE(
        has_line(text, "sluice_webhook_circuit_state{state=\"half_open\",webhook=\"billing\"} 0"));
    m.set_circuit(CircuitState::closed);
    text = exposition(registry);
    EXPECT_TRUE(
        has_line(text, "sluice_webhook_circuit_state{state=\"closed\",webhook=\"billing\"} 1"));
    metrics.remove("billing");
    EXPECT_EQ(exposition(registry).find("sluice_webhook_circuit_state{"), std::string::npos);
}

TEST(DeliveryMetrics, RecordsAttemptsDeliveriesAndQueueSizesIntoTheWebhooksSeries) {
    prometheus::Registry registry;
    DeliveryMetrics metrics(registry);
    const auto m = metrics.add("billing");
    m.record_attempt("timeout", 30s);
    m.record_attempt("2xx", 20ms);
    m.record_delivered(1500ms);
    m.record_delivered(-1s);  // a clock step: counted as 0
    m.set_queue(4, -1);       // not yet known counts as 0
    EXPECT_EQ(m.attempts_total("timeout").Value(), 1);
    EXPECT_EQ(m.attempts_total("2xx").Value(), 1);
    EXPECT_EQ(m.pending->Value(), 4);
    EXPECT_EQ(m.dead->Value(), 0);
    const auto duration = m.attempt_duration->Collect().histogram;
    EXPECT_EQ(duration.sample_count, 2u);
    EXPECT_DOUBLE_EQ(duration.sample_sum, 30.02);
    const auto latency = m.delivery_latency->Collect().histogram;
    EXPECT_EQ(latency.sample_count, 2u);
    EXPECT_DOUBLE_EQ(latency.sample_sum, 1.5);
}

TEST(DeliveryMetrics, AddAgainReturnsTheSameSeries) {
    prometheus::Registry registry;
    DeliveryMetrics metrics(registry);
    metrics.add("billing").disabled->Set(1);
    EXPECT_EQ(metrics.add("billing").disabled->Value(), 1);
}

TEST(DeliveryMetrics, RemoveDropsOnlyThatWebhook) {
    prometheus::Registry registry;
    DeliveryMetrics metrics(registry);
    (void)metrics.add("billing");
    (void)metrics.add("shipping");
    metrics.remove("billing");
    metrics.remove("never_added");
    const std::string text = exposition(registry);
    EXPECT_EQ(text.find("billing"), std::string::npos) << text;
    EXPECT_NE(text.find("webhook=\"shipping\""), std::string::npos);
}

}  // namespace
}  // namespace sluice::outbox
