// The part index of a partitioned projection: an index on the events table over
// (sluice.event_part(aggregate_id, N), transaction_id, id), one per part count N in use. With it
// a part's server-side catch-up reads only its own events, in commit order (a range scan of its
// part), instead of reading every event and applying its share: N parts then read the log once
// between them, not N times. Without it (not built yet, or being built) the parts work as
// before, slower. `sluice run` builds a missing one in the background with CREATE INDEX
// CONCURRENTLY, which does not block writers (docs/schema.md says how to build it yourself).
// Error policy: the names and SQL are pure; build_part_index never throws: a failed build is
// logged with the statement to run by hand, and the parts go on reading every event.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

namespace sluice::projections {

// The index's name, schema-qualified and quoted: "app"."events_sluice_part6_idx" for the quoted
// events table "app"."events" and 6 parts.
[[nodiscard]] std::string part_index_name(const std::string& quoted_events_table, int count);

// CREATE INDEX CONCURRENTLY IF NOT EXISTS ... (one statement, outside any transaction).
[[nodiscard]] std::string create_part_index_sql(const std::string& quoted_events_table, int count);

struct PartIndexBuild {
    std::string url;
    std::string quoted_events_table;
    int count = 2;
    std::chrono::milliseconds connect_timeout{10000};
    // Bounds the whole build: on a large table CREATE INDEX CONCURRENTLY reads it twice.
    std::chrono::milliseconds build_timeout{std::chrono::hours(24)};
};

// Makes sure the part index for `count` parts exists and is valid, on its own connection
// (session "sluice part index"): returns at once when it is, or when another session holding
// the same advisory lock builds it; drops an invalid one that no build is working on (left by
// an interrupted build) and builds it. If sluice stops meanwhile the server finishes the build.
boost::asio::awaitable<void> build_part_index(PartIndexBuild build);

}  // namespace sluice::projections
