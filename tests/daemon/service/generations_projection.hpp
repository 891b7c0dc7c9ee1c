// The projection the blue/green suites rebuild (blue_green_pgtest.cpp, daemon_rebuild_pgtest.cpp):
// `p` in schema p_read, one row per event in p_applied (its primary key refuses a second
// application) and a per-group summary, with the query that recomputes the summary from the
// events.
#pragma once

#include <string>

namespace sluice::testing {

// The `projections:` section; `verify`, when given, becomes the projection's verify: query.
inline std::string projection(const std::string& verify = "") {
    return std::string(R"(projections:
  - name: p
    schema: p_read
)") + (verify.empty() ? "" : "    verify: " + verify + "\n") +
           R"(    setup: |
      CREATE TABLE IF NOT EXISTS p_applied (event_id bigint PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS p_summary (g int PRIMARY KEY, events bigint NOT NULL,
        total bigint NOT NULL)
    reset: TRUNCATE p_applied, p_summary
    handlers:
      Tick: |
        INSERT INTO p_applied VALUES (:id);
        INSERT INTO p_summary VALUES ((:payload->>'g')::int, 1, (:payload->>'n')::bigint)
          ON CONFLICT (g) DO UPDATE SET events = p_summary.events + 1,
            total = p_summary.total + EXCLUDED.total
)";
}

inline const std::string recomputed =
    "SELECT (payload->>'g')::int, count(*), sum((payload->>'n')::bigint) FROM events GROUP BY 1";

}  // namespace sluice::testing
