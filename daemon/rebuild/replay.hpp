// The replay loop of blue/green rebuilds and rollbacks (and of `sluice rebuild --in-place`): the
// daemon's own server-side catch-up (the sink's catch_up_step: one statement per batch, its own
// transaction, the checkpoint moved exactly once with it) run on a blocking connection until a
// short read says the head is reached. Its batches present `owner` to sluice.check_owner (the
// fencing token of the unit that runs it), stop between batches when asked, and report each
// batch to a callback (the progress in sluice.rebuilds, a progress bar on the command line).
// Threading: runs on the calling thread (the command line's, or a rebuild thread of the daemon;
// never the event loop). Error policy: pg::Error from the database propagates; a handler that
// fails becomes HandlerFailed (projection, event id, SQLSTATE); a stop request, Stopped. What
// was committed before stays, and the next replay resumes from the checkpoint.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

#include "engine/event_row.hpp"
#include "engine/upcast.hpp"
#include "infra/pg/connection.hpp"
#include "projections/projection_sink.hpp"

namespace sluice::daemon {

struct Replayed {
    engine::Position at;
    std::int64_t events = 0;  // rows read (every event after the start, handled or not)
};

// The replay was asked to stop (between two batches); what it committed stays.
struct Stopped : std::runtime_error {
    Stopped() : std::runtime_error("stopped between two batches; it resumes from its checkpoint") {}
};

// A handler failed on an event: the batch rolled back, the checkpoint is before `event_id`.
struct HandlerFailed : std::runtime_error {
    HandlerFailed(const std::string& what, std::int64_t event_id, std::string sqlstate)
        : std::runtime_error(what), event_id(event_id), sqlstate(std::move(sqlstate)) {}
    std::int64_t event_id;
    std::string sqlstate;
};

struct ReplayHooks {
    std::string owner;                           // presented by every batch; "" for none
    const std::atomic<bool>* stop = nullptr;     // checked before every batch
    std::function<void(std::int64_t)> on_batch;  // rows read so far, after each batch
    // The events table (quoted): with it, a failing batch is replayed again event by event to
    // name the event its handler failed on.
    std::string events_table;
};

// Replays from `from` (the sink's stored checkpoint) to the head.
Replayed replay(pg::Connection& conn, const projections::ProjectionSink& sink,
                engine::Position from, int batch_size, const ReplayHooks& hooks = {});

// What a rebuild or rollback cannot do as configured (a previous generation of another part count,
// no previous generation, an upcaster expression that fails): nothing was changed. The command line
// reports it as a usage error; a daemon records it as the rebuild's error.
struct Refused : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Installs the upcast function (after checking its expressions: the first that fails is
// thrown as Refused) and the projection's apply and catch-up functions on this
// connection.
void install_functions(pg::Connection& conn, const projections::ApplyFunction& function,
                       const engine::Upcast& upcast);

// The stored checkpoint of `name` (zero when it has none).
[[nodiscard]] engine::Position stored_checkpoint(pg::Connection& conn, const std::string& name);

}  // namespace sluice::daemon
