// Measures each subscriber's lag: how many events follow its checkpoint (counted up to a cap,
// so the query stays cheap on a huge backlog) and how old the oldest of them is. Runs on its
// own connection every few seconds; subscribers at the same position share one query.
// Error policy: throws pg::Error; the caller logs and retries later.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <vector>

#include "engine/status.hpp"
#include "infra/pg/async_connection.hpp"

namespace sluice::daemon {

inline constexpr std::int64_t lag_count_cap = 1000000;

boost::asio::awaitable<void> measure_lag(
    pg::AsyncConnection& conn, const std::string& quoted_events_table,
    const std::vector<std::shared_ptr<engine::SubscriberStatus>>& subscribers);

}  // namespace sluice::daemon
