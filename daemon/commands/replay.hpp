// The replay loop of `sluice rebuild` and `sluice rollback`: the daemon's own server-side
// catch-up (the sink's catch_up_step: one statement per batch, its own transaction, the
// checkpoint moved exactly once with it) run until a short read says the head is reached, with
// progress on stderr: a bar on a terminal, a line every two seconds otherwise. Outside a
// transaction a server-side procedure runs the steps back to back, committing each, for up to
// half a second per round trip. Error policy: pg::Error from the database (a handler's error included) propagates;
// what was committed before it stays, and the next replay resumes from the checkpoint.
#pragma once

#include <cstdint>
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

// Replays from `from` (the sink's stored checkpoint) to the head; `total` (events expected,
// for the rate and the time left) and `label` ("rebuild", "rollback") only shape the progress.
// `quiet`: no progress (a replay inside a swap transaction is a few batches at most).
Replayed replay(pg::Connection& conn, const projections::ProjectionSink& sink,
                engine::Position from, std::int64_t total, int batch_size, const std::string& label,
                bool quiet = false);

// Installs the upcast function (after checking its expressions: UsageError at the first that
// fails) and the projection's apply and catch-up functions on this connection.
void install_functions(pg::Connection& conn, const projections::ApplyFunction& function,
                       const engine::Upcast& upcast);

// The stored checkpoint of `name` (zero when it has none).
[[nodiscard]] engine::Position stored_checkpoint(pg::Connection& conn, const std::string& name);

}  // namespace sluice::daemon
