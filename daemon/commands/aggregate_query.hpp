// What `sluice events` and `sluice state` ask about: one aggregate (--aggregate-id), optionally as
// of a time (--as-of), in the events table (--events-table), over a connection already checked
// to have that table and to read --as-of as a time.
// Error policy: UsageError for a bad id, a missing table or an --as-of that is no time;
// pg::Error when the database cannot be reached.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"
#include "daemon/commands/command.hpp"
#include "infra/pg/connection.hpp"

namespace sluice::daemon {

struct AggregateQuery {
    std::string aggregate_id;
    std::optional<std::string> as_of;
    std::string events_table;
    pg::Connection conn;
};

// Checks the arguments, connects as `application_name` and checks the database. With `config`,
// its database (unless --database-url) and its events table.
[[nodiscard]] AggregateQuery open_aggregate_query(
    const po::variables_map& vm, const std::string& application_name,
    const std::optional<config::Config>& config = std::nullopt);

}  // namespace sluice::daemon
