// Reading the events table in commit order. Only rows below the event horizon are read
// (transaction_id < sluice.event_horizon(): older than every running transaction that can write
// events): a transaction that took a lower id but commits later is never skipped, it is simply
// not visible to the read yet. Committed rows above the horizon are "held back"; the read says
// whether there are any, so a reader can look again when the holding transaction ends.
// Error policy: throws pg::Error.
#pragma once

#include <string>
#include <vector>

#include "engine/event_row.hpp"
#include "infra/pg/async_connection.hpp"

namespace sluice::engine {

namespace asio = boost::asio;

// The event horizon of the statement's snapshot, as an SQL expression over a quoted events
// table: sluice.event_horizon(), which looks up sessions, only when a committed event waits at
// or above pg_snapshot_xmin; otherwise xmin itself, which then reads exactly the same rows.
[[nodiscard]] std::string horizon_sql(const std::string& quoted_table);

// The SELECT for a quoted events table; parameters: $1 xid8, $2 id, $3 limit.
[[nodiscard]] std::string fetch_sql(const std::string& quoted_table);

struct Fetched {
    std::vector<EventRow> rows;  // commit order
    bool held_back = false;      // committed events wait above the horizon
};

// The SELECT of one event by id ($1), parsed by parse_rows; no visibility horizon (for an event
// known to be committed, e.g. a parked one).
[[nodiscard]] std::string fetch_one_sql(const std::string& quoted_table);

// Reads up to `limit` events after `after`, in commit order (transaction_id, id).
asio::awaitable<Fetched> fetch(pg::AsyncConnection& conn, std::string sql, Position after,
                               int limit, std::chrono::milliseconds timeout);

// Parses the rows of fetch_sql's result (pure, for tests).
[[nodiscard]] Fetched parse_rows(const pg::Result& r);

}  // namespace sluice::engine
