// How many aggregates each subscriber holds in quarantine (on_error.then: quarantine: events
// parked behind a failed one of their aggregate), for /status and
// sluice_subscriber_quarantined_aggregates. Read by the daemon's monitor beside the lag: the
// count changes also when `sluice parked retry` or `drop` releases an aggregate from another
// process, so the runner cannot keep it itself.
// Error policy: measure_quarantine throws pg::Error; the caller logs and retries later.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "engine/status.hpp"
#include "infra/pg/async_connection.hpp"

namespace sluice::engine {

// Sets `quarantined` of every subscriber, one query on `conn`.
boost::asio::awaitable<void> measure_quarantine(
    pg::AsyncConnection& conn, const std::vector<std::shared_ptr<SubscriberStatus>>& subscribers,
    std::chrono::milliseconds timeout);

}  // namespace sluice::engine
