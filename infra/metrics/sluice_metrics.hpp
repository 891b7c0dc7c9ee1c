// Every metric sluice exports, registered on one Registry when SluiceMetrics is constructed so
// that each unlabelled series exists from start-up. Per-subscriber and per-webhook series are
// created at zero by add_subscriber() / add_webhook() and dropped by the remove_* functions on
// config reload. Names, labels and meanings are documented in docs/operations.md.
// Thread-safe: like Registry and Family. Handles returned by add_* stay valid (unexported)
// after the matching remove_*, so a task that outlives a reload never touches freed memory.
// Error policy: as Registry (programming errors throw std::invalid_argument).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "infra/metrics/registry.hpp"

namespace sluice::metrics {

enum class SubscriberKind { projection, webhook };
enum class SubscriberState { starting, running, retrying, stopped };
enum class WakeupSource { notify, poll };
enum class AttemptOutcome { status_2xx, status_3xx, status_4xx, status_5xx, timeout, network, tls };

inline constexpr std::array all_subscriber_states = {
    SubscriberState::starting, SubscriberState::running, SubscriberState::retrying,
    SubscriberState::stopped};
inline constexpr std::array all_attempt_outcomes = {
    AttemptOutcome::status_2xx, AttemptOutcome::status_3xx, AttemptOutcome::status_4xx,
    AttemptOutcome::status_5xx, AttemptOutcome::timeout,    AttemptOutcome::network,
    AttemptOutcome::tls};

// Label values as exported: "projection", "running", "notify", "2xx", "timeout", ...
[[nodiscard]] std::string_view to_string(SubscriberKind kind);
[[nodiscard]] std::string_view to_string(SubscriberState state);
[[nodiscard]] std::string_view to_string(WakeupSource source);
[[nodiscard]] std::string_view to_string(AttemptOutcome outcome);
// The outcome class of an HTTP status (100..599); statuses outside 2xx..5xx count as network.
[[nodiscard]] AttemptOutcome outcome_for_status(int http_status);

// The version string compiled in (SLUICE_VERSION).
[[nodiscard]] std::string build_version();

// One subscriber's (projection's or webhook's) series: label {kind, name}.
struct SubscriberSeries {
    std::shared_ptr<Counter> events_total;
    std::shared_ptr<Counter> batches_total;
    std::shared_ptr<Histogram> batch_duration_seconds;
    std::shared_ptr<Gauge> checkpoint_event_id;
    std::shared_ptr<Gauge> lag_events;
    std::shared_ptr<Gauge> lag_seconds;
    std::shared_ptr<Counter> errors_total;
    std::shared_ptr<Counter> parked_events_total;
    std::array<std::shared_ptr<Gauge>, all_subscriber_states.size()> state;  // by enum order

    // 1 on the given state's series, 0 on the others.
    void set_state(SubscriberState current) const;
};

// One webhook endpoint's outbox series: label {webhook}.
struct WebhookSeries {
    std::shared_ptr<Gauge> pending;
    std::shared_ptr<Gauge> in_flight;
    std::shared_ptr<Gauge> dead;
    std::shared_ptr<Gauge> disabled;
    std::array<std::shared_ptr<Counter>, all_attempt_outcomes.size()> attempts;  // by enum order
    std::shared_ptr<Histogram> attempt_duration_seconds;
    std::shared_ptr<Histogram> delivery_latency_seconds;

    [[nodiscard]] Counter& attempts_total(AttemptOutcome outcome) const {
        return *attempts[static_cast<std::size_t>(outcome)];
    }
};

class SluiceMetrics {
  public:
    // Registers every sluice_* family, sluice_build_info{version} = 1 and the process_*
    // metrics on `registry`, which must outlive this object.
    explicit SluiceMetrics(Registry& registry, const std::string& version = build_version());
    SluiceMetrics(const SluiceMetrics&) = delete;
    SluiceMetrics& operator=(const SluiceMetrics&) = delete;

    // Creates every {kind, name} series at zero with state "starting" (1). Idempotent: for an
    // existing subscriber the current values, including the state, are kept.
    SubscriberSeries add_subscriber(SubscriberKind kind, const std::string& name);
    void remove_subscriber(SubscriberKind kind, const std::string& name);
    void set_subscriber_state(SubscriberKind kind, const std::string& name, SubscriberState state);

    // Creates every sluice_outbox_* series for this webhook at zero; idempotent. A webhook is
    // also a subscriber: call add_subscriber(SubscriberKind::webhook, name) as well.
    WebhookSeries add_webhook(const std::string& name);
    void remove_webhook(const std::string& name);

    // The families, for anything the helpers above do not cover. Declaration order is
    // registration order, which is the order of the exposition.
    CounterFamily& subscriber_events_total;
    CounterFamily& subscriber_batches_total;
    HistogramFamily& subscriber_batch_duration_seconds;
    GaugeFamily& subscriber_checkpoint_event_id;
    GaugeFamily& subscriber_lag_events;
    GaugeFamily& subscriber_lag_seconds;
    CounterFamily& subscriber_errors_total;
    CounterFamily& subscriber_parked_events_total;
    GaugeFamily& subscriber_state;

    Counter& tailer_fetches_total;
    CounterFamily& tailer_wakeups_total;  // {source}; both sources exist from start-up
    Gauge& tailer_horizon_held_seconds;

    GaugeFamily& outbox_pending;
    GaugeFamily& outbox_in_flight;
    GaugeFamily& outbox_dead;
    GaugeFamily& outbox_disabled;
    CounterFamily& outbox_attempts_total;
    HistogramFamily& outbox_attempt_duration_seconds;
    HistogramFamily& outbox_delivery_latency_seconds;

    Gauge& database_connected;
    Counter& database_reconnects_total;
    Gauge& coordination_connected;
    Gauge& instances_live;
    Gauge& owned_units;
    Counter& ownership_takeovers_total;
    Gauge& config_last_reload_success;
    Counter& config_reload_failures_total;
    Gauge& ready;
    GaugeFamily& build_info;

    [[nodiscard]] Counter& tailer_wakeups(WakeupSource source) {
        return tailer_wakeups_total.with({std::string(to_string(source))});
    }
};

// Bucket upper bounds, in seconds, of the three histograms.
[[nodiscard]] std::vector<double> batch_duration_buckets();
[[nodiscard]] std::vector<double> attempt_duration_buckets();
[[nodiscard]] std::vector<double> delivery_latency_buckets();

}  // namespace sluice::metrics
