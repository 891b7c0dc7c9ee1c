#include "infra/metrics/sluice_metrics.hpp"

#include <gtest/gtest.h>

namespace sluice::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(SluiceMetrics, ExportsTheGlobalSeriesFromStartUp) {
    Registry r;
    SluiceMetrics m(r, "1.2.3");
    const std::string text = r.expose();
    EXPECT_TRUE(has_line(text, "sluice_tailer_fetches_total 0"));
    EXPECT_TRUE(has_line(text, "sluice_tailer_wakeups_total{source=\"notify\"} 0"));
    EXPECT_TRUE(has_line(text, "sluice_tailer_wakeups_total{source=\"poll\"} 0"));
    EXPECT_TRUE(has_line(text, "sluice_ready 0"));
    EXPECT_TRUE(has_line(text, "sluice_database_connected 0"));
    EXPECT_TRUE(has_line(text, "sluice_config_last_reload_success 1"));
    EXPECT_TRUE(has_line(text, "sluice_build_info{version=\"1.2.3\"} 1"));
    EXPECT_NE(text.find("\nprocess_start_time_seconds "), std::string::npos);
    EXPECT_NE(text.find("# TYPE sluice_subscriber_events_total counter"), std::string::npos);
}

TEST(SluiceMetrics, AddSubscriberCreatesEverySeriesAtZeroInStateStarting) {
    Registry r;
    SluiceMetrics m(r);
    m.add_subscriber(SubscriberKind::projection, "order_summary");
    const std::string text = r.expose();
    const std::string labels = "{kind=\"projection\",name=\"order_summary\"}";
    for (const char* name :
         {"sluice_subscriber_events_total", "sluice_subscriber_batches_total",
          "sluice_subscriber_checkpoint_event_id", "sluice_subscriber_lag_events",
          "sluice_subscriber_lag_seconds", "sluice_subscriber_errors_total",
          "sluice_subscriber_parked_events_total",
          "sluice_subscriber_batch_duration_seconds_count"}) {
        EXPECT_TRUE(has_line(text, name + labels + " 0")) << name;
    }
    const std::string state = "sluice_subscriber_state{kind=\"projection\",name=\"order_summary\",";
    EXPECT_TRUE(has_line(text, state + "state=\"starting\"} 1"));
    EXPECT_TRUE(has_line(text, state + "state=\"running\"} 0"));
    EXPECT_TRUE(has_line(text, state + "state=\"retrying\"} 0"));
    EXPECT_TRUE(has_line(text, state + "state=\"stopped\"} 0"));
}

TEST(SluiceMetrics, SetStateLeavesExactlyOneStateAtOne) {
    Registry r;
    SluiceMetrics m(r);
    const auto series = m.add_subscriber(SubscriberKind::webhook, "billing");
    series.set_state(SubscriberState::retrying);
    m.set_subscriber_state(SubscriberKind::webhook, "billing", SubscriberState::stopped);
    EXPECT_EQ(series.state[0]->value() + series.state[1]->value() + series.state[2]->value(), 0);
    EXPECT_EQ(series.state[3]->value(), 1);
}

TEST(SluiceMetrics, AddSubscriberAgainKeepsCurrentValues) {
    Registry r;
    SluiceMetrics m(r);
    auto first = m.add_subscriber(SubscriberKind::projection, "p");
    first.events_total->inc(7);
    first.set_state(SubscriberState::running);
    auto again = m.add_subscriber(SubscriberKind::projection, "p");
    EXPECT_EQ(again.events_total->value(), 7);
    EXPECT_EQ(again.state[static_cast<std::size_t>(SubscriberState::running)]->value(), 1);
    EXPECT_EQ(again.state[static_cast<std::size_t>(SubscriberState::starting)]->value(), 0);
}

TEST(SluiceMetrics, RemoveSubscriberDropsOnlyThatSubscribersSeries) {
    Registry r;
    SluiceMetrics m(r);
    m.add_subscriber(SubscriberKind::projection, "gone");
    m.add_subscriber(SubscriberKind::projection, "kept");
    auto stale = m.add_subscriber(SubscriberKind::projection, "gone");
    m.remove_subscriber(SubscriberKind::projection, "gone");
    stale.events_total->inc();  // a task finishing after the reload must not crash
    const std::string text = r.expose();
    EXPECT_EQ(text.find("name=\"gone\""), std::string::npos);
    EXPECT_NE(text.find("name=\"kept\""), std::string::npos);
}

TEST(SluiceMetrics, AddWebhookCreatesOutboxSeriesForEveryOutcome) {
    Registry r;
    SluiceMetrics m(r);
    const auto series = m.add_webhook("billing");
    series.attempts_total(outcome_for_status(503)).inc();
    const std::string text = r.expose();
    for (const char* outcome : {"2xx", "3xx", "4xx", "timeout", "network", "tls"}) {
        EXPECT_TRUE(has_line(text, std::string("sluice_outbox_attempts_total{webhook=\"billing\","
                                               "outcome=\"") +
                                       outcome + "\"} 0"))
            << outcome;
    }
    EXPECT_TRUE(
        has_line(text, "sluice_outbox_attempts_total{webhook=\"billing\",outcome=\"5xx\"} 1"));
    for (const char* name :
         {"sluice_outbox_pending", "sluice_outbox_in_flight", "sluice_outbox_dead",
          "sluice_outbox_disabled", "sluice_outbox_attempt_duration_seconds_count",
          "sluice_outbox_delivery_latency_seconds_count"}) {
        EXPECT_TRUE(has_line(text, std::string(name) + "{webhook=\"billing\"} 0")) << name;
    }
    m.remove_webhook("billing");
    EXPECT_EQ(r.expose().find("billing"), std::string::npos);
}

TEST(OutcomeForStatus, ClassifiesByHundreds) {
    EXPECT_EQ(outcome_for_status(200), AttemptOutcome::status_2xx);
    EXPECT_EQ(outcome_for_status(308), AttemptOutcome::status_3xx);
    EXPECT_EQ(outcome_for_status(429), AttemptOutcome::status_4xx);
    EXPECT_EQ(outcome_for_status(599), AttemptOutcome::status_5xx);
    EXPECT_EQ(outcome_for_status(101), AttemptOutcome::network);
    EXPECT_EQ(to_string(AttemptOutcome::status_4xx), "4xx");
}

}  // namespace
}  // namespace sluice::metrics
