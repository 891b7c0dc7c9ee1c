#include "outbox/delivery_metrics.hpp"

#include <algorithm>

#include "infra/metrics/family.hpp"

namespace sluice::outbox {
namespace {

double seconds(auto duration) {
    return std::chrono::duration<double>(duration).count();
}

using ::sluice::metrics::remove_series;

}  // namespace

std::vector<double> attempt_duration_buckets() {
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30};
}

std::vector<double> delivery_latency_buckets() {
    // From sub-second delivery to the multi-hour tail of the retry schedule.
    return {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 7200, 21600, 86400};
}

prometheus::Counter& WebhookMetrics::attempts_total(std::string_view outcome) const {
    const auto* it = std::find(outcome_labels.begin(), outcome_labels.end(), outcome);
    // outcome_label() never returns anything else; count a stray one as a network failure.
    const auto network = std::find(outcome_labels.begin(), outcome_labels.end(), "network");
    return *attempts[static_cast<std::size_t>((it != outcome_labels.end() ? it : network) -
                                              outcome_labels.begin())];
}

void WebhookMetrics::record_attempt(std::string_view outcome,
                                    std::chrono::steady_clock::duration duration) const {
    attempts_total(outcome).Increment();
    attempt_duration->Observe(seconds(duration));
}

void WebhookMetrics::record_delivered(std::chrono::system_clock::duration latency) const {
    delivery_latency->Observe(std::max(0.0, seconds(latency)));
}

void WebhookMetrics::set_queue(std::int64_t pending_rows, std::int64_t dead_rows) const {
    pending->Set(static_cast<double>(std::max<std::int64_t>(0, pending_rows)));
    dead->Set(static_cast<double>(std::max<std::int64_t>(0, dead_rows)));
}

void WebhookMetrics::set_circuit(CircuitState state) const {
    for (std::size_t i = 0; i < circuit_states.size(); ++i)
        circuit[i]->Set(circuit_states[i] == state ? 1 : 0);
}

DeliveryMetrics::DeliveryMetrics(prometheus::Registry& r)
    : pending_(prometheus::BuildGauge()
                   .Name("sluice_outbox_pending")
                   .Help("Deliveries waiting to be attempted, including retries.")
                   .Register(r)),
      in_flight_(prometheus::BuildGauge()
                     .Name("sluice_outbox_in_flight")
                     .Help("Deliveries currently being attempted.")
                     .Register(r)),
      dead_(prometheus::BuildGauge()
                .Name("sluice_outbox_dead")
                .Help("Deliveries that exhausted their retries (dead letters).")
                .Register(r)),
      disabled_(prometheus::BuildGauge()
                    .Name("sluice_webhook_disabled")
                    .Help("1 when the endpoint is disabled (410 Gone or disable_after) and not "
                          "being delivered to.")
                    .Register(r)),
      circuit_(prometheus::BuildGauge()
                   .Name("sluice_webhook_circuit_state")
                   .Help("1 for the state the endpoint's circuit breaker is in, in this process.")
                   .Register(r)),
      attempts_(prometheus::BuildCounter()
                    .Name("sluice_outbox_attempts_total")
                    .Help("Delivery attempts, by outcome.")
                    .Register(r)),
      attempt_duration_(prometheus::BuildHistogram()
                            .Name("sluice_outbox_attempt_duration_seconds")
                            .Help("Duration of one delivery attempt, in seconds.")
                            .Register(r)),
      delivery_latency_(prometheus::BuildHistogram()
                            .Name("sluice_outbox_delivery_latency_seconds")
                            .Help("Time from the event's commit to its successful delivery, in "
                                  "seconds.")
                            .Register(r)) {}

WebhookMetrics DeliveryMetrics::add(const std::string& webhook) {
    const prometheus::Labels labels{{"webhook", webhook}};
    WebhookMetrics m{
        .pending = &pending_.Add(labels),
        .in_flight = &in_flight_.Add(labels),
        .dead = &dead_.Add(labels),
        .disabled = &disabled_.Add(labels),
        .attempt_duration = &attempt_duration_.Add(labels, attempt_duration_buckets()),
        .delivery_latency = &delivery_latency_.Add(labels, delivery_latency_buckets()),
    };
    for (std::size_t i = 0; i < circuit_states.size(); ++i) {
        m.circuit[i] = &circuit_.Add(
            {{"webhook", webhook}, {"state", std::string(circuit_state_name(circuit_states[i]))}});
    }
    for (std::size_t i = 0; i < outcome_labels.size(); ++i) {
        m.attempts[i] =
            &attempts_.Add({{"webhook", webhook}, {"outcome", std::string(outcome_labels[i])}});
    }
    return m;
}

void DeliveryMetrics::remove(const std::string& webhook) {
    const prometheus::Labels labels{{"webhook", webhook}};
    remove_series(pending_, labels);
    remove_series(in_flight_, labels);
    remove_series(dead_, labels);
    remove_series(disabled_, labels);
    for (const auto state : circuit_states) {
        remove_series(circuit_,
                      {{"webhook", webhook}, {"state", std::string(circuit_state_name(state))}});
    }
    remove_series(attempt_duration_, labels, prometheus::Histogram::BucketBoundaries{});
    remove_series(delivery_latency_, labels, prometheus::Histogram::BucketBoundaries{});
    for (const auto outcome : outcome_labels) {
        remove_series(attempts_, {{"webhook", webhook}, {"outcome", std::string(outcome)}});
    }
}

}  // namespace sluice::outbox
