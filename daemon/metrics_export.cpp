#include "daemon/metrics_export.hpp"

namespace sluice::daemon {

void export_engine_metrics(metrics::SluiceMetrics& m, const engine::FeedStats& f,
                           const engine::CoordinatorStats& c, bool ready) {
    m.tailer_fetches_total.advance_to(static_cast<double>(f.fetches));
    m.tailer_fetch_seconds_total.advance_to(f.fetch_seconds);
    m.tailer_notify_wakeups.advance_to(static_cast<double>(f.notify_wakeups));
    m.tailer_poll_wakeups.advance_to(static_cast<double>(f.poll_wakeups));
    m.tailer_held_wakeups.advance_to(static_cast<double>(f.held_rechecks));
    m.tailer_horizon_held_seconds.Set(f.horizon_held_seconds);
    m.database_connected.Set(f.connected ? 1 : 0);
    m.database_reconnects_total.advance_to(static_cast<double>(f.reconnects));
    m.coordination_connected.Set(c.connected ? 1 : 0);
    m.instances_live.Set(c.live_instances);
    m.owned_units.Set(static_cast<double>(c.owned.size()));
    m.ownership_takeovers_total.advance_to(static_cast<double>(c.takeovers));
    m.ready.Set(ready ? 1 : 0);
}

void export_http_metrics(metrics::SluiceMetrics& m, const http::ServerStats& s) {
    m.http_evicted.advance_to(static_cast<double>(s.evicted));
    m.http_timed_out.advance_to(static_cast<double>(s.timed_out));
    m.http_refused.advance_to(static_cast<double>(s.refused));
}

}  // namespace sluice::daemon
