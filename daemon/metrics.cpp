#include "daemon/metrics.hpp"

#include "infra/metrics/exposition.hpp"
#include "infra/metrics/family.hpp"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

namespace sluice::daemon::metrics {

std::string_view to_string(SubscriberKind kind) {
    switch (kind) {
        case SubscriberKind::projection:
            return "projection";
        case SubscriberKind::webhook:
            return "webhook";
        case SubscriberKind::snapshot:
            return "snapshot";
    }
    return "unknown";
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
    switch (source) {
        case WakeupSource::notify:
            return "notify";
        case WakeupSource::poll:
            return "poll";
        case WakeupSource::held:
            return "held";
    }
    return "poll";
}

std::string_view to_string(HttpCloseReason reason) {
    switch (reason) {
        case HttpCloseReason::evicted:
            return "evicted";
        case HttpCloseReason::timeout:
            return "timeout";
        case HttpCloseReason::refused:
            return "refused";
    }
    return "refused";
}

std::string build_version() {
    return SLUICE_VERSION;
}

std::vector<double> batch_duration_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

namespace {

template <class T>
prometheus::Family<T>& family(prometheus::detail::Builder<T> builder, prometheus::Registry& r,
                              const std::string& name, const std::string& help) {
    return builder.Name(name).Help(help).Register(r);
}

prometheus::Family<prometheus::Counter>& counters(prometheus::Registry& r, const std::string& name,
                                                  const std::string& help) {
    return family(prometheus::BuildCounter(), r, name, help);
}

prometheus::Family<prometheus::Gauge>& gauges(prometheus::Registry& r, const std::string& name,
                                              const std::string& help) {
    return family(prometheus::BuildGauge(), r, name, help);
}

prometheus::Counter& counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
    return counters(r, name, help).Add({});
}

prometheus::Gauge& gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
    return gauges(r, name, help).Add({});
}

// Every source exists from start-up. Registering the family again returns it (the registry's
// default InsertBehavior::Merge).
prometheus::Counter& wakeups(prometheus::Registry& r, WakeupSource source) {
    return counters(r, "sluice_tailer_wakeups_total",
                    "Times the tailer woke up to fetch, by source.")
        .Add({{"source", std::string(to_string(source))}});
}

prometheus::Counter& http_closed(prometheus::Registry& r, HttpCloseReason reason) {
    return counters(r, "sluice_http_connections_closed_total",
                    "HTTP connections the endpoint closed to stay reachable, by reason.")
        .Add({{"reason", std::string(to_string(reason))}});
}

prometheus::Labels with_state(prometheus::Labels labels, SubscriberState state) {
    labels.emplace("state", to_string(state));
    return labels;
}

using ::sluice::metrics::remove_series;

// A gauge per projection, 1 or 0 as `flags` says; the series of projections not in it are removed.
void set_flags(prometheus::Family<prometheus::Gauge>& family,
               std::map<std::string, prometheus::Gauge*>& series,
               const std::map<std::string, bool>& flags) {
    for (auto it = series.begin(); it != series.end();) {
        if (flags.contains(it->first)) {
            ++it;
            continue;
        }
        family.Remove(it->second);
        it = series.erase(it);
    }
    for (const auto& [projection, flag] : flags) {
        auto& gauge = series[projection];
        if (gauge == nullptr)
            gauge = &family.Add({{"projection", projection}});
        gauge->Set(flag ? 1 : 0);
    }
}

}  // namespace

SubscriberFamilies::SubscriberFamilies(prometheus::Registry& r)
    : events_total(
          counters(r, "sluice_subscriber_events_total",
                   "Events a subscriber has processed (projection applied or webhook enqueued).")),
      batches_total(
          counters(r, "sluice_subscriber_batches_total", "Batches a subscriber has committed.")),
      batch_duration_seconds(family(prometheus::BuildHistogram(), r,
                                    "sluice_subscriber_batch_duration_seconds",
                                    "Time from the start of a batch to its commit, in seconds.")),
      checkpoint_event_id(gauges(r, "sluice_subscriber_checkpoint_event_id",
                                 "Event id of the subscriber's last committed checkpoint.")),
      lag_events(gauges(r, "sluice_subscriber_lag_events",
                        "Committed events not yet processed by the subscriber.")),
      lag_seconds(gauges(
          r, "sluice_subscriber_lag_seconds",
          "Age of the oldest committed event not yet processed by the subscriber, in seconds.")),
      errors_total(
          counters(r, "sluice_subscriber_errors_total", "Failed attempts to process a batch.")),
      parked_events_total(counters(r, "sluice_subscriber_parked_events_total",
                                   "Events skipped and parked after exhausting their retries.")),
      quarantined_aggregates(
          gauges(r, "sluice_subscriber_quarantined_aggregates",
                 "Aggregates held in quarantine: their events wait, parked, behind a failed one.")),
      state(gauges(r, "sluice_subscriber_state",
                   "1 for the subscriber's current state, 0 for the others.")) {}

SubscriberSeries::SubscriberSeries(SubscriberFamilies& f, SubscriberKind kind,
                                   const std::string& name)
    : families_(f),
      labels_{{"kind", std::string(to_string(kind))}, {"name", name}},
      events_total(f.events_total.Add(labels_)),
      batches_total(f.batches_total.Add(labels_)),
      batch_duration_seconds(f.batch_duration_seconds.Add(labels_, batch_duration_buckets())),
      checkpoint_event_id(f.checkpoint_event_id.Add(labels_)),
      lag_events(f.lag_events.Add(labels_)),
      lag_seconds(f.lag_seconds.Add(labels_)),
      errors_total(f.errors_total.Add(labels_)),
      parked_events_total(f.parked_events_total.Add(labels_)),
      quarantined_aggregates(f.quarantined_aggregates.Add(labels_)),
      state_{} {
    for (const SubscriberState s : all_subscriber_states) {
        state_[static_cast<std::size_t>(s)] = &f.state.Add(with_state(labels_, s));
    }
    set_state(SubscriberState::starting);
}

SubscriberSeries::~SubscriberSeries() {
    remove_series(families_.events_total, labels_);
    remove_series(families_.batches_total, labels_);
    remove_series(families_.batch_duration_seconds, labels_,
                  prometheus::Histogram::BucketBoundaries{});
    remove_series(families_.checkpoint_event_id, labels_);
    remove_series(families_.lag_events, labels_);
    remove_series(families_.lag_seconds, labels_);
    remove_series(families_.errors_total, labels_);
    remove_series(families_.parked_events_total, labels_);
    remove_series(families_.quarantined_aggregates, labels_);
    for (const SubscriberState s : all_subscriber_states) {
        remove_series(families_.state, with_state(labels_, s));
    }
}

void SubscriberSeries::set_state(SubscriberState current) {
    for (std::size_t i = 0; i < state_.size(); ++i) {
        state_[i]->Set(i == static_cast<std::size_t>(current) ? 1 : 0);
    }
}

double SubscriberSeries::state_value(SubscriberState state) const {
    return state_[static_cast<std::size_t>(state)]->Value();
}

SluiceMetrics::SluiceMetrics(const std::string& version)
    : subscribers_(registry_),
      outbox_(registry_),
      definition_changed_(gauges(registry_, "sluice_projection_definition_changed",
                                 "1 while the projection's read model was built by another "
                                 "definition (setup, handlers, filters, partitions, schema) than "
                                 "the config's, until a rebuild.")),
      rebuild_verify_failed_(gauges(registry_, "sluice_rebuild_verify_failed",
                                    "1 when the last blue/green rebuild of the projection "
                                    "stopped before the swap because verify: refused it.")),
      tailer_fetches_total(counter(registry_, "sluice_tailer_fetches_total",
                                   "Queries the tailer ran to fetch events.")),
      tailer_fetch_seconds_total(
          counter(registry_, "sluice_tailer_fetch_seconds_total",
                  "Time the tailer spent fetching events, round trips included.")),
      tailer_notify_wakeups(wakeups(registry_, WakeupSource::notify)),
      tailer_poll_wakeups(wakeups(registry_, WakeupSource::poll)),
      tailer_held_wakeups(wakeups(registry_, WakeupSource::held)),
      tailer_horizon_held_seconds(
          gauge(registry_, "sluice_tailer_horizon_held_seconds",
                "How long an open transaction has held back the delivery horizon, in "
                "seconds; 0 when nothing is held back.")),
      database_connected(gauge(registry_, "sluice_database_connected",
                               "1 while the tailer's database connection is up.")),
      database_reconnects_total(counter(registry_, "sluice_database_reconnects_total",
                                        "Times the database connection was re-established.")),
      coordination_connected(
          gauge(registry_, "sluice_coordination_connected",
                "1 while the connection that holds this instance's ownership locks is up.")),
      instances_live(gauge(registry_, "sluice_instances_live",
                           "sluice instances sharing this database, as this one sees them.")),
      owned_units(gauge(registry_, "sluice_owned_units",
                        "Subscribers (and parts of partitioned projections) this instance "
                        "owns and runs.")),
      ownership_takeovers_total(counter(registry_, "sluice_ownership_takeovers_total",
                                        "Units of work this instance took ownership of.")),
      config_last_reload_success(
          gauge(registry_, "sluice_config_last_reload_success",
                "1 when the last configuration reload succeeded (or none was attempted).")),
      config_reload_failures_total(counter(registry_, "sluice_config_reload_failures_total",
                                           "Configuration reloads that were rejected.")),
      ready(gauge(registry_, "sluice_ready", "1 when the daemon is ready (what /readyz reports).")),
      http_evicted(http_closed(registry_, HttpCloseReason::evicted)),
      http_timed_out(http_closed(registry_, HttpCloseReason::timeout)),
      http_refused(http_closed(registry_, HttpCloseReason::refused)) {
    config_last_reload_success.Set(1);
    gauges(registry_, "sluice_build_info", "Always 1; the labels describe the build.")
        .Add({{"version", version}})
        .Set(1);
}

void SluiceMetrics::set_rebuild_verify_failed(const std::map<std::string, bool>& by_projection) {
    set_flags(rebuild_verify_failed_, rebuild_verify_failed_series_, by_projection);
}

std::shared_ptr<SubscriberSeries> SluiceMetrics::add_subscriber(SubscriberKind kind,
                                                                const std::string& name) {
    Held& held = subscriber_series_[{kind, name}];
    if (!held.series) {
        held.series = held.alive.lock();
    }
    if (!held.series) {
        held.series = std::make_shared<SubscriberSeries>(subscribers_, kind, name);
        held.alive = held.series;
    }
    return held.series;
}

void SluiceMetrics::remove_subscriber(SubscriberKind kind, const std::string& name) {
    std::erase_if(subscriber_series_,
                  [](const auto& entry) { return entry.second.alive.expired(); });
    auto it = subscriber_series_.find({kind, name});
    if (it != subscriber_series_.end()) {
        it->second.series.reset();  // unexported now unless a runner still holds it
        if (it->second.alive.expired()) {
            subscriber_series_.erase(it);
        }
    }
}

void SluiceMetrics::set_definitions_changed(const std::map<std::string, bool>& changed) {
    set_flags(definition_changed_, definition_changed_series_, changed);
}

std::string SluiceMetrics::expose() const {
    return sluice::metrics::expose({&registry_, &process_});
}

}  // namespace sluice::daemon::metrics
