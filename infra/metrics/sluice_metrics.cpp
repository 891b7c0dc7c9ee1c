#include "infra/metrics/sluice_metrics.hpp"

#include "infra/metrics/process_metrics.hpp"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

namespace sluice::metrics {

std::string_view to_string(SubscriberKind kind) {
    return kind == SubscriberKind::projection ? "projection" : "webhook";
}

std::string_view to_string(SubscriberState state) {
    switch (state) {
        case SubscriberState::starting:
            return "starting";
        case SubscriberState::running:
            return "running";
        case SubscriberState::retrying:
            return "retrying";
        case SubscriberState::stopped:
            return "stopped";
    }
    return "unknown";
}

std::string_view to_string(WakeupSource source) {
    return source == WakeupSource::notify ? "notify" : "poll";
}

std::string_view to_string(AttemptOutcome outcome) {
    switch (outcome) {
        case AttemptOutcome::status_2xx:
            return "2xx";
        case AttemptOutcome::status_3xx:
            return "3xx";
        case AttemptOutcome::status_4xx:
            return "4xx";
        case AttemptOutcome::status_5xx:
            return "5xx";
        case AttemptOutcome::timeout:
            return "timeout";
        case AttemptOutcome::network:
            return "network";
        case AttemptOutcome::tls:
            return "tls";
    }
    return "unknown";
}

AttemptOutcome outcome_for_status(int http_status) {
    switch (http_status / 100) {
        case 2:
            return AttemptOutcome::status_2xx;
        case 3:
            return AttemptOutcome::status_3xx;
        case 4:
            return AttemptOutcome::status_4xx;
        case 5:
            return AttemptOutcome::status_5xx;
        default:
            return AttemptOutcome::network;
    }
}

std::string build_version() {
    return SLUICE_VERSION;
}

std::vector<double> batch_duration_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::vector<double> attempt_duration_buckets() {
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30};
}

std::vector<double> delivery_latency_buckets() {
    // From sub-second delivery to the multi-hour tail of the retry schedule.
    return {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 7200, 21600, 86400};
}

void SubscriberSeries::set_state(SubscriberState current) const {
    for (std::size_t i = 0; i < state.size(); ++i) {
        state[i]->set(i == static_cast<std::size_t>(current) ? 1 : 0);
    }
}

namespace {
const std::vector<std::string> subscriber_labels = {"kind", "name"};
}  // namespace

SluiceMetrics::SluiceMetrics(Registry& r, const std::string& version)
    : subscriber_events_total(r.add_counter(
          "sluice_subscriber_events_total",
          "Events a subscriber has processed (projection applied or webhook enqueued).",
          subscriber_labels)),
      subscriber_batches_total(r.add_counter("sluice_subscriber_batches_total",
                                             "Batches a subscriber has committed.",
                                             subscriber_labels)),
      subscriber_batch_duration_seconds(
          r.add_histogram("sluice_subscriber_batch_duration_seconds",
                          "Time from the start of a batch to its commit, in seconds.",
                          subscriber_labels, batch_duration_buckets())),
      subscriber_checkpoint_event_id(r.add_gauge(
          "sluice_subscriber_checkpoint_event_id",
          "Event id of the subscriber's last committed checkpoint.", subscriber_labels)),
      subscriber_lag_events(r.add_gauge("sluice_subscriber_lag_events",
                                        "Committed events not yet processed by the subscriber.",
                                        subscriber_labels)),
      subscriber_lag_seconds(r.add_gauge(
          "sluice_subscriber_lag_seconds",
          "Age of the oldest committed event not yet processed by the subscriber, in seconds.",
          subscriber_labels)),
      subscriber_errors_total(r.add_counter("sluice_subscriber_errors_total",
                                            "Failed attempts to process a batch.",
                                            subscriber_labels)),
      subscriber_parked_events_total(r.add_counter(
          "sluice_subscriber_parked_events_total",
          "Events skipped and parked after exhausting their retries.", subscriber_labels)),
      subscriber_state(r.add_gauge("sluice_subscriber_state",
                                   "1 for the subscriber's current state, 0 for the others.",
                                   {"kind", "name", "state"})),
      tailer_fetches_total(
          r.add_counter("sluice_tailer_fetches_total", "Queries the tailer ran to fetch events.")
              .with({})),
      tailer_wakeups_total(r.add_counter("sluice_tailer_wakeups_total",
                                         "Times the tailer woke up to fetch, by source.",
                                         {"source"})),
      tailer_horizon_held_seconds(
          r.add_gauge("sluice_tailer_horizon_held_seconds",
                      "How long an open transaction has held back the delivery horizon, in "
                      "seconds; 0 when nothing is held back.")
              .with({})),
      outbox_pending(r.add_gauge("sluice_outbox_pending",
                                 "Deliveries waiting to be attempted, including retries.",
                                 {"webhook"})),
      outbox_in_flight(r.add_gauge("sluice_outbox_in_flight",
                                   "Deliveries currently being attempted.", {"webhook"})),
      outbox_dead(r.add_gauge("sluice_outbox_dead",
                              "Deliveries that exhausted their retries (dead letters).",
                              {"webhook"})),
      outbox_disabled(r.add_gauge("sluice_outbox_disabled",
                                  "1 when the endpoint is disabled and not being delivered to.",
                                  {"webhook"})),
      outbox_attempts_total(r.add_counter("sluice_outbox_attempts_total",
                                          "Delivery attempts, by outcome.",
                                          {"webhook", "outcome"})),
      outbox_attempt_duration_seconds(r.add_histogram(
          "sluice_outbox_attempt_duration_seconds", "Duration of one delivery attempt, in seconds.",
          {"webhook"}, attempt_duration_buckets())),
      outbox_delivery_latency_seconds(
          r.add_histogram("sluice_outbox_delivery_latency_seconds",
                          "Time from the event's commit to its successful delivery, in seconds.",
                          {"webhook"}, delivery_latency_buckets())),
      database_connected(r.add_gauge("sluice_database_connected",
                                     "1 while the tailer's database connection is up.")
                             .with({})),
      database_reconnects_total(r.add_counter("sluice_database_reconnects_total",
                                              "Times the database connection was re-established.")
                                    .with({})),
      coordination_connected(
          r.add_gauge("sluice_coordination_connected",
                      "1 while the connection that holds this instance's ownership locks is up.")
              .with({})),
      instances_live(r.add_gauge("sluice_instances_live",
                                 "sluice instances sharing this database, as this one sees them.")
                         .with({})),
      owned_units(r.add_gauge("sluice_owned_units",
                              "Subscribers (and parts of partitioned projections) this instance "
                              "owns and runs.")
                      .with({})),
      ownership_takeovers_total(r.add_counter("sluice_ownership_takeovers_total",
                                              "Units of work this instance took ownership of.")
                                    .with({})),
      config_last_reload_success(
          r.add_gauge("sluice_config_last_reload_success",
                      "1 when the last configuration reload succeeded (or none was attempted).")
              .with({})),
      config_reload_failures_total(r.add_counter("sluice_config_reload_failures_total",
                                                 "Configuration reloads that were rejected.")
                                       .with({})),
      ready(r.add_gauge("sluice_ready", "1 when the daemon is ready (what /readyz reports).")
                .with({})),
      build_info(r.add_gauge("sluice_build_info", "Always 1; the labels describe the build.",
                             {"version"})) {
    for (const WakeupSource source : {WakeupSource::notify, WakeupSource::poll}) {
        (void)tailer_wakeups(source);
    }
    config_last_reload_success.set(1);
    build_info.with({version}).set(1);
    register_process_metrics(r);
}

SubscriberSeries SluiceMetrics::add_subscriber(SubscriberKind kind, const std::string& name) {
    const LabelValues labels{std::string(to_string(kind)), name};
    const bool existed = subscriber_events_total.contains(labels);
    SubscriberSeries series{
        subscriber_events_total.shared(labels),
        subscriber_batches_total.shared(labels),
        subscriber_batch_duration_seconds.shared(labels),
        subscriber_checkpoint_event_id.shared(labels),
        subscriber_lag_events.shared(labels),
        subscriber_lag_seconds.shared(labels),
        subscriber_errors_total.shared(labels),
        subscriber_parked_events_total.shared(labels),
        {},
    };
    for (const SubscriberState state : all_subscriber_states) {
        series.state[static_cast<std::size_t>(state)] =
            subscriber_state.shared({labels[0], labels[1], std::string(to_string(state))});
    }
    if (!existed) {
        series.set_state(SubscriberState::starting);
    }
    return series;
}

void SluiceMetrics::remove_subscriber(SubscriberKind kind, const std::string& name) {
    const LabelValues labels{std::string(to_string(kind)), name};
    subscriber_events_total.remove(labels);
    subscriber_batches_total.remove(labels);
    subscriber_batch_duration_seconds.remove(labels);
    subscriber_checkpoint_event_id.remove(labels);
    subscriber_lag_events.remove(labels);
    subscriber_lag_seconds.remove(labels);
    subscriber_errors_total.remove(labels);
    subscriber_parked_events_total.remove(labels);
    for (const SubscriberState state : all_subscriber_states) {
        subscriber_state.remove({labels[0], labels[1], std::string(to_string(state))});
    }
}

void SluiceMetrics::set_subscriber_state(SubscriberKind kind, const std::string& name,
                                         SubscriberState state) {
    add_subscriber(kind, name).set_state(state);
}

WebhookSeries SluiceMetrics::add_webhook(const std::string& name) {
    const LabelValues labels{name};
    WebhookSeries series{
        outbox_pending.shared(labels),
        outbox_in_flight.shared(labels),
        outbox_dead.shared(labels),
        outbox_disabled.shared(labels),
        {},
        outbox_attempt_duration_seconds.shared(labels),
        outbox_delivery_latency_seconds.shared(labels),
    };
    for (const AttemptOutcome outcome : all_attempt_outcomes) {
        series.attempts[static_cast<std::size_t>(outcome)] =
            outbox_attempts_total.shared({name, std::string(to_string(outcome))});
    }
    return series;
}

void SluiceMetrics::remove_webhook(const std::string& name) {
    const LabelValues labels{name};
    outbox_pending.remove(labels);
    outbox_in_flight.remove(labels);
    outbox_dead.remove(labels);
    outbox_disabled.remove(labels);
    outbox_attempt_duration_seconds.remove(labels);
    outbox_delivery_latency_seconds.remove(labels);
    for (const AttemptOutcome outcome : all_attempt_outcomes) {
        outbox_attempts_total.remove({name, std::string(to_string(outcome))});
    }
}

}  // namespace sluice::metrics
