// `sluice outbox show` and `sluice outbox replay`, and the time bounds that they and `list` take.
// Error policy: UsageError for bad input (an unknown id, a time the server cannot read);
// pg::Error for the database.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/commands/command.hpp"
#include "outbox/cli.hpp"

namespace sluice::daemon {

// --since and --until, as timestamptz texts the server produced: each a duration back from now
// ("2h", "30min", "7d") or a time PostgreSQL reads ("2026-12-03T14:00:00Z"; without a zone, in
// the server's time zone). UsageError naming the flag for anything else, or an empty window.
[[nodiscard]] outbox::TimeWindow time_window(pg::Connection& conn, const po::variables_map& vm);

// Prints the message and each of its attempts (a table, or one JSON object).
int show_message(pg::Connection& conn, std::int64_t id, const std::string& quoted_events_table,
                 bool as_json);

// Re-queues (or with dry_run counts) the webhook's messages settled in the window; prints what.
int replay_messages(pg::Connection& conn, const outbox::ReplayFilter& filter,
                    const std::string& quoted_events_table, bool dry_run);

}  // namespace sluice::daemon
