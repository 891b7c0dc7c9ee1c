// Retrying a parked event (sluice.parked_events; the queries that list and discard them are in
// store/parked.hpp) through a subscriber's current sink, exactly once: one transaction takes the
// subscriber's advisory lock (the one every batch of the daemon takes, so it never interleaves
// with one), deletes the parked row, and runs the sink's statements for the event. The event
// leaves the parked list in the transaction that applies it, or not at all: a retry that fails,
// or meets a concurrent retry or drop, changes nothing.
// No ownership check: the daemon that owns the subscriber may run meanwhile (its batches of this
// subscriber wait for the lock, SL002, like during a rebuild).
// Error policy: a handler that fails again throws its pg::ServerError, after the rollback (the
// event stays parked, nothing of it remains); the lock not taken within the statement timeout
// throws a pg::ServerError with SQLSTATE SL002 (store/coordination.hpp); pg::ConnectionLost and
// pg::Timeout as ever (the server rolls back). Expected outcomes are the return value.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/sink.hpp"

namespace sluice::engine {

namespace asio = boost::asio;

enum class Retried {
    applied,        // the sink applied it, and it left the parked list with its effects
    not_wanted,     // the current sink takes no such event (e.g. its handler was removed): it
                    // left the parked list without effects
    not_parked,     // no such parked event (any more): nothing changed
    not_in_events,  // the event is no longer in the events table: nothing changed
};

struct RetryOptions {
    std::string quoted_events_table;
    std::chrono::milliseconds statement_timeout{30000};  // the session's, for client deadlines
};

// Applies parked event `event_id` of `sink.name()`. The caller has run sink.prepare(conn) on
// this connection; `conn` is in no transaction before and after. The event of a quarantined
// aggregate is applied only when no earlier event of its aggregate is parked (else the sink's
// statements park it again, behind that one): release an aggregate from its first event on.
asio::awaitable<Retried> retry_parked(pg::AsyncConnection& conn, const Sink& sink,
                                      std::int64_t event_id, RetryOptions options);

// The first parked event, in version order, of the aggregate that `subscriber` holds in
// quarantine (on_error.then: quarantine); nullopt once it holds none of it (released). Events
// parked behind it while a release runs are found too: a release repeats this until nullopt.
asio::awaitable<std::optional<std::int64_t>> first_in_quarantine(pg::AsyncConnection& conn,
                                                                 const std::string& subscriber,
                                                                 const std::string& aggregate_type,
                                                                 const std::string& aggregate_id,
                                                                 std::chrono::milliseconds timeout);

}  // namespace sluice::engine
