// Copies what the engine keeps about itself (the feed's and the coordinator's stats), and the
// HTTP endpoint's counts, into the sluice metric set. The daemon calls it once a second on the
// event-loop thread; subscribers export their own series (Subscribers::export_metrics) and webhook
// delivery records into its series as it happens. Error policy: never throws.
#pragma once

#include "daemon/metrics.hpp"
#include "engine/coordinator.hpp"
#include "engine/feed.hpp"
#include "infra/http/server.hpp"

namespace sluice::daemon {

void export_engine_metrics(metrics::SluiceMetrics& metrics, const engine::FeedStats& feed,
                           const engine::CoordinatorStats& coordination, bool ready);
void export_http_metrics(metrics::SluiceMetrics& metrics, const http::ServerStats& server);

}  // namespace sluice::daemon
