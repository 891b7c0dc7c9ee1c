// The phases of blue/green rebuilds in sluice.rebuilds (migration 19): `sluice rebuild` and
// `sluice rollback` record theirs (building, verifying, swapping) and remove the row when they
// end; status (the daemon's /status, `sluice status`) reads them. A row whose session has
// ended is a rebuild that was interrupted: running the command again resumes it.
// Bound parameters only. Error policy: none here (SQL text).
#pragma once

namespace sluice::store {

// $1 projection, $2 command ("rebuild" | "rollback"), $3 phase; the session is the caller's.
inline constexpr const char* set_rebuild_phase_sql =
    "INSERT INTO sluice.rebuilds (projection, command, phase, backend_pid) "
    "VALUES ($1, $2, $3, pg_backend_pid()) ON CONFLICT (projection) DO UPDATE "
    "SET command = EXCLUDED.command, phase = EXCLUDED.phase, "
    "backend_pid = EXCLUDED.backend_pid, updated_at = now(), "
    "started_at = CASE WHEN sluice.rebuilds.backend_pid = EXCLUDED.backend_pid "
    "THEN sluice.rebuilds.started_at ELSE now() END";

// Asks the running daemons for a blue/green rebuild (migration 21): $1 projection, $2 reason
// (shown in status and the log: "sluice rebuild", "definition changed", ...). A rebuild already
// asked for or running is left as it is; one that ended in 'failed' or 'verify_failed' is asked
// for again. Returns one row (true) when this call asked, none when one was already pending.
inline constexpr const char* request_rebuild_sql =
    "INSERT INTO sluice.rebuilds AS r (projection, command, phase, reason, backend_pid) "
    "VALUES ($1, 'rebuild', 'requested', $2, NULL) ON CONFLICT (projection) DO UPDATE "
    "SET command = 'rebuild', phase = 'requested', reason = EXCLUDED.reason, backend_pid = NULL, "
    "instance = NULL, done = 0, total = 0, error = NULL, started_at = now(), updated_at = now() "
    "WHERE r.phase IN ('done', 'failed', 'verify_failed') RETURNING true";

// $1 projection.
inline constexpr const char* end_rebuild_sql = "DELETE FROM sluice.rebuilds WHERE projection = $1";

// One row per rebuild: projection, command, phase, running (its session is alive), seconds
// since it started; by projection.
inline constexpr const char* rebuilds_sql =
    "SELECT r.projection, r.command, r.phase, EXISTS (SELECT 1 FROM pg_stat_activity a "
    "WHERE a.pid = r.backend_pid AND a.application_name = 'sluice ' || r.command), "
    "extract(epoch FROM now() - r.started_at)::bigint "
    "FROM sluice.rebuilds r ORDER BY r.projection";

}  // namespace sluice::store
