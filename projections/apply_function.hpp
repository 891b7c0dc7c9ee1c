// Turns a projection's handlers into one PL/pgSQL function, created per connection in pg_temp
// (behind a transaction-mode pool, where a session's temporary functions are not there for its
// next transaction: in the sluice schema, named by a hash of its text, so that every instance
// and config version creates and calls its own),
// that applies a batch of events inside the server: the batch costs one round trip and every
// handler statement runs with a cached plan. Event values reach the handlers as the columns of
// the event row the function reads by id, typed as the table declares them (uuid, jsonb, ...):
// nothing from an event is ever spliced into SQL text. A projection that owns a schema gets
// functions that run with it first on their search_path (projections/schema.hpp).
// Pure. Error policy: std::invalid_argument for handlers that cannot be embedded.
#pragma once

#include <string>

#include "config/config.hpp"
#include "engine/upcast.hpp"
#include "infra/pg/pooling.hpp"
#include "projections/partition.hpp"

namespace sluice::projections {

struct ApplyFunction {
    std::string create_sql;  // CREATE OR REPLACE FUNCTION pg_temp... (both functions)
    // SELECT pg_temp....($1::bigint[], $2); $1 = ids in delivery order, $2 = the subscriber,
    // whose quarantined aggregates' later events are parked behind them instead of applied.
    std::string call_sql;
    // Reads and applies the next $4 events after ($2 xid8, $3 id) for subscriber $1 and moves
    // its checkpoint (parking, as call_sql does, the events of $1's quarantined aggregates); one
    // row: rows_read, applied (the events the projection wants among them, as
    // ProjectionSink::wants picks them: what the checkpoint's applied-event counter counts),
    // last_tx, last_id, last_ts. A part reads only
    // its own events once its part index is ready (projections/part_index.hpp); its checkpoint
    // may then move past other parts' events although rows_read is 0.
    std::string catch_up_sql;
};

// `part`: the catch-up applies only that part's events; it reads only them through the part
// index when that is ready, and every event (counting them all) until then. `upcast`: the
// handlers see each event through it (its function must be installed before the first call).
[[nodiscard]] ApplyFunction apply_function(const config::Projection& projection,
                                           const std::string& quoted_events_table, Part part = {},
                                           pg::Pooling pooling = pg::Pooling::session,
                                           const engine::Upcast& upcast = {});

// The event types a projection handles.
[[nodiscard]] engine::TypeSet handled_types(const config::Projection& projection);

// The handler statement as it runs inside the function: :param -> the event row's column,
// a leading SELECT -> PERFORM (PL/pgSQL discards its rows).
[[nodiscard]] std::string embed_statement(std::string_view statement);

}  // namespace sluice::projections
