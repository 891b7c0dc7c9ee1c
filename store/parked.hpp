// The parked events (sluice.parked_events: events a subscriber with `on_error.then: park` gave up
// on) as the command line reads and discards them, over a blocking connection (command-line use
// only, never on the daemon's event loop). Retrying one goes through a sink:
// engine/parked_retry.hpp.
// A subscriber name selects that subscriber and, when it names a partitioned projection, each of
// its parts (NAME[k/N]), whose events are parked under the part's name.
// Error policy: database failures throw pg::Error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "infra/pg/connection.hpp"

namespace sluice::store {

struct ParkedEvent {
    std::string subscriber;
    std::int64_t event_id = 0;
    std::uint64_t transaction_id = 0;
    // From the events table; nullopt when the event is no longer there.
    std::optional<std::string> aggregate_id;
    std::optional<std::string> aggregate_type;
    std::optional<std::string> event_type;
    std::string parked_at;  // ISO 8601 UTC
    std::optional<std::string> sqlstate;
    std::string error;
    // on_error.then: quarantine: the event holds its aggregate back (every quarantined row of an
    // aggregate does; the first in version order is the one a retry starts from).
    bool quarantine = false;
    // For a quarantined row that is not its aggregate's first: the first's event id.
    std::optional<std::int64_t> behind;
};

// Parked events in commit order (transaction_id, event_id), then by subscriber; those of
// `subscriber` (and its parts) only, or all when nullopt.
[[nodiscard]] std::vector<ParkedEvent> parked_events(pg::Connection& conn,
                                                     const std::string& quoted_events_table,
                                                     const std::optional<std::string>& subscriber);

// How many aggregates `subscriber_expression` (SQL text: a column or a bound parameter) holds in
// quarantine, as a scalar subquery: the one count `sluice status` and the daemon report.
[[nodiscard]] std::string quarantined_aggregates_sql(const std::string& subscriber_expression);

// Discards the parked events of `subscriber` (and its parts): the one with `event_id`, or all of
// them when nullopt. Returns how many were discarded. Dropping the first event of a quarantined
// aggregate leaves the others parked and the aggregate quarantined: its next event is first.
std::int64_t drop_parked(pg::Connection& conn, const std::string& subscriber,
                         std::optional<std::int64_t> event_id);

// Every subscriber the database knows of (a checkpoint or parked events), by name; parts as
// NAME[k/N].
[[nodiscard]] std::vector<std::string> known_subscribers(pg::Connection& conn);

}  // namespace sluice::store
