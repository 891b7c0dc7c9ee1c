// Blue/green rebuilds of a projection that owns a schema (`schema:`): `sluice rebuild NAME`
// builds the next generation in `SCHEMA__next` beside the live one, from the first event, with
// its own checkpoint (`NAME@next`) and the daemon's own server-side catch-up, while the running
// daemon keeps serving and updating the live generation; then it runs the projection's `verify:`
// query against it and swaps it in. `sluice rollback NAME` catches the previous generation
// (`SCHEMA__previous`, checkpoint `NAME@previous`) up the same way and swaps it back in.
//
// The swap is one short transaction: it takes the subscriber's advisory lock (the daemon's
// batches for the projection wait for it, as during any rebuild), applies the last events to
// the incoming generation, renames the schemas, moves the checkpoints and parked events with
// them and grants the readers what they had. Readers see the old generation or the new one,
// never an empty or partial one; the daemon's next batch finds its checkpoint moved, reloads it
// and writes into the generation that is live then (its functions resolve unqualified names
// anew after the rename: projections/schema.hpp). Every wait for a lock in it is bounded by a
// short lock_timeout and retried, so a long-running reader never leaves it waiting for ever.
//
// Crash safety: the next generation is created (schema, setup, checkpoint at the start) in one
// transaction, then advances batch by batch with its checkpoint; a rebuild run again resumes
// from that checkpoint when the definition is unchanged (recorded as the schema's comment) and
// starts afresh when it changed. The live generation is not touched before the swap, which
// commits whole or not at all.
// Progress and outcome go into sluice.rebuilds (store/rebuilds.hpp): phase, instance, done of
// total events (at most once a second), and at the end 'done', or 'verify_failed' / 'failed' with
// the error. The same code runs in `sluice rebuild` (when no daemon runs) and in a daemon's
// rebuild thread (daemon/rebuild/rebuild_work.hpp), each holding the unit `NAME@next`.
// Threading: blocking, on the caller's thread (never the event loop).
// Error policy: a verify that refuses is an Outcome; Refused for what the config cannot ask
// (recorded as 'failed'); HandlerFailed (recorded as 'failed'); Stopped and pg::Error propagate
// with the row left in its phase (what committed stays, and running it again resumes).
#pragma once

#include <string>

#include "config/config.hpp"
#include "daemon/rebuild/replay.hpp"
#include "infra/pg/connection.hpp"

namespace sluice::daemon {

struct BlueGreenOptions {
    int lock_timeout_seconds = 60;  // budget for the swap's lock waits; 0: no limit
    // The owner presented by every batch (the unit's fencing token; "" for none) and a stop
    // flag checked between batches; on_batch is the command's own.
    ReplayHooks hooks;
    std::string instance;       // who runs it, recorded in the row
    std::string reason;         // recorded in a row nobody asked for
    bool progress_bar = false;  // progress on stderr (the command line)
};

struct Outcome {
    bool swapped = false;  // false: verify refused, the live generation stays
    std::string message;   // the summary, or why it stopped before the swap
};

// Builds, verifies and swaps in the next generation; the previous generation is dropped first.
Outcome rebuild_beside(pg::Connection& conn, const config::Config& config,
                       const config::Projection& projection, const BlueGreenOptions& options);

// Catches the previous generation up and swaps it back in; the generation that was live becomes
// the previous one.
Outcome roll_back(pg::Connection& conn, const config::Config& config,
                  const config::Projection& projection, const BlueGreenOptions& options);

// Drops the previous generation (schema, checkpoint, parked events); false when there was none.
bool drop_previous(pg::Connection& conn, const config::Projection& projection,
                   const BlueGreenOptions& options);

}  // namespace sluice::daemon
