// How far behind a subscriber is: how many events follow its position in commit order and how
// old the oldest of them is, in seconds of statement_timestamp() (one "now" for every subscriber
// measured in the statement, not frozen at a transaction's start); both 0 when nothing follows. The
// one lag query: the daemon's lag monitor and `sluice status` (reading checkpoints) both use it.
// Error policy: measure_lag throws pg::Error; the caller logs and retries later.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/status.hpp"
#include "infra/pg/async_connection.hpp"

namespace sluice::engine {

// The count is exact up to lag_count_cap. Above it, the lag is estimated as the number of ids
// between the position's event and the highest id (never below the cap): counting a backlog of
// millions every few seconds would cost the server more than the catch-up it measures, and ids
// are out of commit order only among the few transactions in flight at once.
inline constexpr std::int64_t lag_count_cap = 10000;

// A LATERAL subquery with columns lag_events (bigint) and lag_seconds (float8) for the position
// in columns `alias`.transaction_id (xid8) and `alias`.event_id (bigint) of the FROM item it
// follows: `FROM sluice.checkpoints c CROSS JOIN LATERAL <lag_lateral(table, "c")> lag`.
[[nodiscard]] std::string lag_lateral(const std::string& quoted_events_table,
                                      const std::string& alias);

// Sets lag_events and lag_seconds of every subscriber, one query (subscribers at the same
// position share a row) on `conn`.
boost::asio::awaitable<void> measure_lag(
    pg::AsyncConnection& conn, const std::string& quoted_events_table,
    const std::vector<std::shared_ptr<SubscriberStatus>>& subscribers,
    std::chrono::milliseconds timeout);

}  // namespace sluice::engine
