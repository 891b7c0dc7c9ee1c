// Every metric sluice exports, on one prometheus::Registry owned by SluiceMetrics: the
// unlabelled series exist from construction; per-subscriber series are created at zero by
// add_subscriber() and per-webhook delivery series by outbox() (outbox::DeliveryMetrics);
// the process_* metrics are read from /proc at scrape time. expose() renders all of it.
// Names, labels and meanings are documented in docs/operations.md.
// Thread-safety: the prometheus-cpp handles are thread-safe. add_subscriber(),
// remove_subscriber() and the destruction of a SubscriberSeries happen on the event-loop
// thread; expose() may run on any thread.
// Lifetime: a SubscriberSeries stays valid (and exported) while anything holds it, even
// after remove_subscriber(), so a runner still finishing a batch after a reload never
// touches freed memory; its series disappear from the exposition when the last holder lets go.
// Error policy: never throws except std::bad_alloc.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "infra/metrics/mirrored_counter.hpp"
#include "infra/metrics/process_metrics.hpp"
#include "outbox/delivery_metrics.hpp"

namespace sluice::daemon::metrics {

using sluice::metrics::MirroredCounter;

enum class SubscriberKind { projection, webhook, snapshot };
enum class SubscriberState { starting, running, retrying, stopped };
enum class WakeupSource { notify, poll, held };
enum class HttpCloseReason { evicted, timeout, refused };

inline constexpr std::array all_subscriber_states = {
    SubscriberState::starting, SubscriberState::running, SubscriberState::retrying,
    SubscriberState::stopped};

// Label values as exported: "projection", "running", "notify", ...
[[nodiscard]] std::string_view to_string(SubscriberKind kind);
[[nodiscard]] std::string_view to_string(SubscriberState state);
[[nodiscard]] std::string_view to_string(WakeupSource source);
[[nodiscard]] std::string_view to_string(HttpCloseReason reason);

// The version string compiled in (SLUICE_VERSION).
[[nodiscard]] std::string build_version();
// Bucket upper bounds, in seconds, of sluice_subscriber_batch_duration_seconds.
[[nodiscard]] std::vector<double> batch_duration_buckets();

// The sluice_subscriber_* families, label {kind, name} (plus {state} for the state gauge).
struct SubscriberFamilies {
    prometheus::Family<prometheus::Counter>& events_total;
    prometheus::Family<prometheus::Counter>& batches_total;
    prometheus::Family<prometheus::Histogram>& batch_duration_seconds;
    prometheus::Family<prometheus::Gauge>& checkpoint_event_id;
    prometheus::Family<prometheus::Gauge>& lag_events;
    prometheus::Family<prometheus::Gauge>& lag_seconds;
    prometheus::Family<prometheus::Counter>& errors_total;
    prometheus::Family<prometheus::Counter>& parked_events_total;
    prometheus::Family<prometheus::Gauge>& quarantined_aggregates;
    prometheus::Family<prometheus::Gauge>& state;

    explicit SubscriberFamilies(prometheus::Registry& registry);
};

// One subscriber's series, created at zero in state "starting"; removed from the families
// when destroyed. The counters mirror the runner's running totals (see MirroredCounter).
class SubscriberSeries {
  public:
    SubscriberSeries(SubscriberFamilies& families, SubscriberKind kind, const std::string& name);
    SubscriberSeries(const SubscriberSeries&) = delete;
    SubscriberSeries& operator=(const SubscriberSeries&) = delete;
    ~SubscriberSeries();

    // 1 on the given state's series, 0 on the others.
    void set_state(SubscriberState current);
    [[nodiscard]] double state_value(SubscriberState state) const;

  private:
    // Declared before the handles below, which are made from them.
    SubscriberFamilies& families_;
    prometheus::Labels labels_;

  public:
    MirroredCounter events_total;
    MirroredCounter batches_total;
    prometheus::Histogram& batch_duration_seconds;
    prometheus::Gauge& checkpoint_event_id;
    prometheus::Gauge& lag_events;
    prometheus::Gauge& lag_seconds;
    MirroredCounter errors_total;
    MirroredCounter parked_events_total;
    prometheus::Gauge& quarantined_aggregates;

  private:
    std::array<prometheus::Gauge*, all_subscriber_states.size()> state_;  // by enum order
};

class SluiceMetrics {
  public:
    // Registers every sluice_* family, sluice_build_info{version} = 1 and the process_*
    // collector.
    explicit SluiceMetrics(const std::string& version = build_version());
    SluiceMetrics(const SluiceMetrics&) = delete;
    SluiceMetrics& operator=(const SluiceMetrics&) = delete;

    // The subscriber's series: the existing ones (with their values and state) if anything
    // still holds them, else new ones at zero in state "starting".
    std::shared_ptr<SubscriberSeries> add_subscriber(SubscriberKind kind, const std::string& name);
    // Lets go of the subscriber's series; they stop being exported once no holder is left.
    void remove_subscriber(SubscriberKind kind, const std::string& name);

    // sluice_projection_definition_changed{projection}: 1 for each projection whose read model
    // was built by another definition than the config's, 0 for the others; the series of a
    // projection absent from `changed` are removed.
    void set_definitions_changed(const std::map<std::string, bool>& changed);
    // sluice_rebuild_verify_failed{projection}: 1 for each projection whose last blue/green
    // rebuild stopped because verify: refused the new generation (sluice.rebuilds as last
    // read), 0 for the others; series of projections not in the map are removed.
    void set_rebuild_verify_failed(const std::map<std::string, bool>& by_projection);

    // The sluice_outbox_* families; a webhook is also a subscriber (add_subscriber as well).
    [[nodiscard]] outbox::DeliveryMetrics& outbox() { return outbox_; }

    // The body of GET /metrics (see sluice::metrics::text_content_type).
    [[nodiscard]] std::string expose() const;
    // For tests that add families of their own.
    [[nodiscard]] prometheus::Registry& registry() { return registry_; }

  private:
    prometheus::Registry registry_;  // first: every family below lives in it
    SubscriberFamilies subscribers_;
    outbox::DeliveryMetrics outbox_;
    sluice::metrics::ProcessCollector process_;
    struct Held {
        std::shared_ptr<SubscriberSeries> series;  // null after remove_subscriber()
        std::weak_ptr<SubscriberSeries> alive;     // while a runner still holds it
    };
    std::map<std::pair<SubscriberKind, std::string>, Held> subscriber_series_;
    prometheus::Family<prometheus::Gauge>& definition_changed_;
    std::map<std::string, prometheus::Gauge*> definition_changed_series_;  // by projection
    prometheus::Family<prometheus::Gauge>& rebuild_verify_failed_;
    std::map<std::string, prometheus::Gauge*> rebuild_verify_failed_series_;

  public:
    // The unlabelled series (and the three wakeup sources), registered on registry_ above.
    MirroredCounter tailer_fetches_total;
    MirroredCounter tailer_fetch_seconds_total;
    MirroredCounter tailer_notify_wakeups;  // sluice_tailer_wakeups_total{source="notify"}
    MirroredCounter tailer_poll_wakeups;    // sluice_tailer_wakeups_total{source="poll"}
    MirroredCounter tailer_held_wakeups;    // sluice_tailer_wakeups_total{source="held"}
    prometheus::Gauge& tailer_horizon_held_seconds;
    prometheus::Gauge& database_connected;
    MirroredCounter database_reconnects_total;
    prometheus::Gauge& coordination_connected;
    prometheus::Gauge& instances_live;
    prometheus::Gauge& owned_units;
    MirroredCounter ownership_takeovers_total;
    prometheus::Gauge& config_last_reload_success;
    prometheus::Counter& config_reload_failures_total;
    prometheus::Gauge& ready;
    // sluice_http_connections_closed_total{reason}: what the HTTP endpoint closed to stay
    // reachable (infra/http/server.hpp).
    MirroredCounter http_evicted;
    MirroredCounter http_timed_out;
    MirroredCounter http_refused;
};

}  // namespace sluice::daemon::metrics
