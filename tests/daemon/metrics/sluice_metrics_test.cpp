// The sluice metric set (daemon/metrics.hpp): what exists from start-up, what a subscriber
// adds, and when its series go away.
#include "daemon/metrics.hpp"

#include <gtest/gtest.h>

namespace sluice::daemon::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(SluiceMetrics, ExportsTheGlobalSeriesAtZeroFromStartUp) {
    const SluiceMetrics m("1.2.3");
    const std::string text = m.expose();
    for (const char* line :
         {"sluice_tailer_fetches_total 0", "sluice_tailer_fetch_seconds_total 0",
          "sluice_tailer_wakeups_total{source=\"notify\"} 0",
          "sluice_tailer_wakeups_total{source=\"poll\"} 0",
          "sluice_tailer_wakeups_total{source=\"held\"} 0", "sluice_tailer_horizon_held_seconds 0",
          "sluice_database_connected 0", "sluice_database_reconnects_total 0",
          "sluice_coordination_connected 0", "sluice_instances_live 0", "sluice_owned_units 0",
          "sluice_ownership_takeovers_total 0", "sluice_config_last_reload_success 1",
          "sluice_config_reload_failures_total 0", "sluice_ready 0",
          "sluice_http_connections_closed_total{reason=\"evicted\"} 0",
          "sluice_http_connections_closed_total{reason=\"timeout\"} 0",
          "sluice_http_connections_closed_total{reason=\"refused\"} 0",
          "sluice_build_info{version=\"1.2.3\"} 1"}) {
        EXPECT_TRUE(has_line(text, line)) << line << "\n" << text;
    }
    EXPECT_NE(text.find("\nprocess_start_time_seconds "), std::string::npos);
    // prometheus-cpp writes a labelled family once it has a series.
    EXPECT_EQ(text.find("sluice_subscriber_events_total"), std::string::npos);
}

TEST(SluiceMetrics, AddSubscriberCreatesEverySeriesAtZeroInStateStarting) {
    SluiceMetrics m;
    const auto series = m.add_subscriber(SubscriberKind::projection, "order_summary");
    const std::string text = m.expose();
    const std::string labels = "{kind=\"projection\",name=\"order_summary\"}";
    for (const char* name :
         {"sluice_subscriber_events_total", "sluice_subscriber_batches_total",
          "sluice_subscriber_checkpoint_event_id", "sluice_subscriber_lag_events",
          "sluice_subscriber_lag_seconds", "sluice_subscriber_errors_total",
          "sluice_subscriber_parked_events_total", "sluice_subscriber_quarantined_aggregates",
          "sluice_subscriber_batch_duration_seconds_count"}) {
        EXPECT_TRUE(has_line(text, name + labels + " 0")) << name;
    }
    EXPECT_TRUE(has_line(text,
                         "sluice_subscriber_batch_duration_seconds_bucket{kind=\"projection\","
                         "name=\"order_summary\",le=\"0.0025\"} 0"))
        << text;
    const std::string state = "sluice_subscriber_state{kind=\"projection\",name=\"order_summary\",";
    EXPECT_TRUE(has_line(text, state + "state=\"starting\"} 1"));
    EXPECT_TRUE(has_line(text, state + "state=\"running\"} 0"));
    EXPECT_TRUE(has_line(text, state + "state=\"retrying\"} 0"));
    EXPECT_TRUE(has_line(text, state + "state=\"stopped\"} 0"));
}

TEST(SluiceMetrics, SetStateLeavesExactlyOneStateAtOne) {
    SluiceMetrics m;
    const auto series = m.add_subscriber(SubscriberKind::webhook, "billing");
    series->set_state(SubscriberState::retrying);
    series->set_state(SubscriberState::stopped);
    EXPECT_EQ(series->state_value(SubscriberState::starting) +
                  series->state_value(SubscriberState::running) +
                  series->state_value(SubscriberState::retrying),
              0);
    EXPECT_EQ(series->state_value(SubscriberState::stopped), 1);
}

TEST(SluiceMetrics, AddSubscriberAgainKeepsCurrentValues) {
    SluiceMetrics m;
    auto first = m.add_subscriber(SubscriberKind::projection, "p");
    first->events_total.advance_to(7);
    first->set_state(SubscriberState::running);
    auto again = m.add_subscriber(SubscriberKind::projection, "p");
    EXPECT_EQ(again, first);
    EXPECT_EQ(again->events_total.counter().Value(), 7);
    EXPECT_EQ(again->state_value(SubscriberState::running), 1);
}

TEST(SluiceMetrics, RemovedSubscriberDisappearsOnceNothingHoldsItsSeries) {
    SluiceMetrics m;
    (void)m.add_subscriber(SubscriberKind::projection, "kept");
    auto runner = m.add_subscriber(SubscriberKind::projection, "gone");
    m.remove_subscriber(SubscriberKind::projection, "gone");
    runner->batch_duration_seconds.Observe(0.1);  // a batch finishing after the reload
    EXPECT_NE(m.expose().find("name=\"gone\""), std::string::npos) << "still held by its runner";
    runner.reset();
    const std::string text = m.expose();
    EXPECT_EQ(text.find("name=\"gone\""), std::string::npos) << text;
    EXPECT_NE(text.find("name=\"kept\""), std::string::npos);
}

TEST(SluiceMetrics, SubscriberAddedAgainWhileItsOldRunnerDrainsSharesItsSeries) {
    SluiceMetrics m;
    auto old_runner = m.add_subscriber(SubscriberKind::projection, "p");
    old_runner->errors_total.advance_to(2);
    m.remove_subscriber(SubscriberKind::projection, "p");
    auto new_runner = m.add_subscriber(SubscriberKind::projection, "p");
    EXPECT_EQ(new_runner, old_runner);
    old_runner.reset();
    new_runner->errors_total.advance_to(1);  // the new runner's own total
    EXPECT_EQ(new_runner->errors_total.counter().Value(), 3);
    EXPECT_TRUE(
        has_line(m.expose(), "sluice_subscriber_errors_total{kind=\"projection\",name=\"p\"} 3"));
}

TEST(SluiceMetrics, WebhookDeliverySeriesLiveOnTheSameExposition) {
    SluiceMetrics m;
    m.outbox().add("billing").record_attempt("5xx", std::chrono::milliseconds(20));
    const std::string text = m.expose();
    EXPECT_TRUE(
        has_line(text, "sluice_outbox_attempts_total{outcome=\"5xx\",webhook=\"billing\"} 1"));
    m.outbox().remove("billing");
    EXPECT_EQ(m.expose().find("billing"), std::string::npos);
}

}  // namespace
}  // namespace sluice::daemon::metrics
