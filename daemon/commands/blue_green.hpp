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
// Error policy: expected refusals (a verify that fails, no previous generation) are reported on
// stderr and returned as exit codes; UsageError for what the command line or config cannot ask;
// pg::Error propagates (what committed stays, and running the command again resumes).
#pragma once

#include "config/config.hpp"
#include "infra/pg/connection.hpp"

namespace sluice::daemon {

struct BlueGreenOptions {
    int lock_timeout_seconds = 60;  // budget for the swap's lock waits; 0: no limit
};

// Builds, verifies and swaps in the next generation; the previous generation is dropped first.
int rebuild_beside(pg::Connection& conn, const config::Config& config,
                   const config::Projection& projection, const BlueGreenOptions& options);

// Catches the previous generation up and swaps it back in; the generation that was live becomes
// the previous one.
int roll_back(pg::Connection& conn, const config::Config& config,
              const config::Projection& projection, const BlueGreenOptions& options);

// Drops the previous generation (schema, checkpoint, parked events); false when there was none.
bool drop_previous(pg::Connection& conn, const config::Projection& projection,
                   const BlueGreenOptions& options);

}  // namespace sluice::daemon
