// Blue/green rebuilds in sluice.rebuilds (migrations 19 and 21), one row per projection. A row
// in phase 'requested' is a rebuild asked of the running daemons (by `sluice rebuild`, or by a
// daemon whose projection's definition changed); an instance takes it as the unit of work
// `NAME@next` and runs it. Whoever runs a rebuild or a rollback (a daemon, or the command line
// when no daemon runs) records its phase (building, verifying, swapping), its session, its
// instance and its progress (done of total events), and at the end the outcome: 'done',
// 'failed' or 'verify_failed' with the error. The row stays until the next request, so the
// command line and status can see how it ended. A row in building/verifying/swapping whose
// session has ended is a rebuild that was interrupted: the daemons take it up again, and it
// resumes from the checkpoint of `NAME@next`.
// Bound parameters only. Error policy: none here (SQL text).
#pragma once

#include <string>
#include <string_view>

namespace sluice::store {

// The phases, as the row keeps them (text).
namespace rebuild_phase {
inline constexpr std::string_view requested = "requested";
inline constexpr std::string_view building = "building";
inline constexpr std::string_view verifying = "verifying";
inline constexpr std::string_view swapping = "swapping";
inline constexpr std::string_view done = "done";
inline constexpr std::string_view failed = "failed";
inline constexpr std::string_view verify_failed = "verify_failed";
}  // namespace rebuild_phase

// Whether a rebuild in `phase` has ended (the row only tells the outcome).
[[nodiscard]] inline bool rebuild_ended(std::string_view phase) {
    return phase == rebuild_phase::done || phase == rebuild_phase::failed ||
           phase == rebuild_phase::verify_failed;
}

// The unit of work that runs a requested rebuild of `projection`: named after the checkpoint
// of the generation it builds, so it cannot collide with a subscriber's name.
[[nodiscard]] inline std::string rebuild_unit(std::string_view projection) {
    return std::string(projection) + "@next";
}
inline constexpr std::string_view rebuild_unit_suffix = "@next";

// Starts (or resumes) a rebuild or rollback in this session: $1 projection, $2 command
// ("rebuild" | "rollback"), $3 instance that runs it, $4 reason for a row not asked for. The
// progress and the error of an earlier run are cleared; `done` is set again from the
// checkpoint when the replay starts.
inline constexpr const char* start_rebuild_sql =
    "INSERT INTO sluice.rebuilds AS r (projection, command, phase, backend_pid, instance, reason) "
    "VALUES ($1, $2, 'building', pg_backend_pid(), $3, $4) ON CONFLICT (projection) DO UPDATE "
    "SET command = EXCLUDED.command, phase = 'building', backend_pid = EXCLUDED.backend_pid, "
    "instance = EXCLUDED.instance, error = NULL, updated_at = now(), "
    "reason = CASE WHEN r.phase IN ('done', 'failed', 'verify_failed') OR r.command <> "
    "EXCLUDED.command THEN EXCLUDED.reason ELSE r.reason END, "
    "started_at = CASE WHEN r.phase IN ('done', 'failed', 'verify_failed') OR r.command <> "
    "EXCLUDED.command THEN now() ELSE r.started_at END";

// $1 projection, $2 phase (building, verifying, swapping); the session is the caller's.
inline constexpr const char* set_rebuild_phase_sql =
    "UPDATE sluice.rebuilds SET phase = $2, backend_pid = pg_backend_pid(), updated_at = now() "
    "WHERE projection = $1";

// $1 projection, $2 done, $3 total (events).
inline constexpr const char* rebuild_progress_sql =
    "UPDATE sluice.rebuilds SET done = $2::bigint, total = $3::bigint, updated_at = now() "
    "WHERE projection = $1";

// How it ended: $1 projection, $2 phase (done, failed, verify_failed), $3 error (NULL for done).
inline constexpr const char* end_rebuild_sql =
    "UPDATE sluice.rebuilds SET phase = $2, error = $3, backend_pid = NULL, updated_at = now() "
    "WHERE projection = $1";

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

// One row per rebuild, by projection: projection, command, phase, running (its session is
// alive), seconds since it started, reason, instance (or ''), done, total, error (or ''),
// events per second since it started (0 before any), seconds since the row last changed.
inline constexpr const char* rebuilds_sql =
    "SELECT r.projection, r.command, r.phase, EXISTS (SELECT 1 FROM pg_stat_activity a "
    "WHERE a.pid = r.backend_pid AND a.application_name = 'sluice ' || r.command), "
    "extract(epoch FROM now() - r.started_at)::bigint, r.reason, coalesce(r.instance, ''), "
    "r.done, r.total, coalesce(r.error, ''), "
    "CASE WHEN r.updated_at > r.started_at THEN r.done / extract(epoch FROM r.updated_at - "
    "r.started_at)::float8 ELSE 0 END, "
    "extract(epoch FROM now() - r.updated_at)::float8 "
    "FROM sluice.rebuilds r ORDER BY r.projection";

// The instances alive now, as the coordinator counts them (sluice.instances with a fresh
// heartbeat whose session holds the instance lock): $1 failover_after as an interval.
inline constexpr const char* live_instances_sql =
    "SELECT count(*) FROM sluice.instances i WHERE i.heartbeat > now() - $1::interval "
    "AND sluice.advisory_holder(i.lock_key) IS NOT NULL";
// The same when units are held by leases (database.pooling: transaction): a fresh heartbeat.
inline constexpr const char* live_leased_instances_sql =
    "SELECT count(*) FROM sluice.instances i WHERE i.heartbeat > now() - $1::interval";

}  // namespace sluice::store
