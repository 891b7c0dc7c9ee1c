#include "daemon/rebuild/replay.hpp"

#include <libpq-fe.h>

#include "engine/upcast_install.hpp"
#include "store/coordination.hpp"

namespace sluice::daemon {
namespace {

struct Step {
    std::int64_t rows_read = 0;
    engine::Position at;
    bool at_head = false;
};

// Runs the catch-up step again and again in the server, committing after each batch, until a
// short read (the head) or until the budget is spent: one round trip for many batches, so a
// replay on a busy machine does not wait to be scheduled between batches. The same batches,
// transactions and checkpoints as one statement per batch. Created once per session; callable
// only outside a transaction block (a procedure's COMMIT needs that).
constexpr const char* replay_procedure_sql = R"SQL(
CREATE OR REPLACE PROCEDURE pg_temp.sluice_replay(p_step text, p_name text, p_limit integer,
  p_budget_ms integer, p_owner text, INOUT rows_read bigint, INOUT last_tx xid8, INOUT last_id bigint,
  INOUT at_head boolean) LANGUAGE plpgsql AS $sluice$
DECLARE
  sluice_step record;
  sluice_until timestamptz := clock_timestamp() + p_budget_ms * interval '1 ms';
BEGIN
  rows_read := 0;
  at_head := false;
  LOOP
    EXECUTE p_step INTO sluice_step USING p_name, last_tx, last_id, p_limit, p_owner;
    COMMIT;
    rows_read := rows_read + sluice_step.rows_read;
    last_tx := sluice_step.last_tx;
    last_id := sluice_step.last_id;
    IF sluice_step.rows_read < p_limit THEN
      at_head := true;
      RETURN;
    END IF;
    EXIT WHEN clock_timestamp() >= sluice_until;
  END LOOP;
END
$sluice$)SQL";

constexpr const char* call_replay_sql =
    "CALL pg_temp.sluice_replay($1, $2, $3, 500, $4, 0, $5::xid8, $6, false)";

// The batches from `from` run in the server for up to half a second (above).
Step run_steps(pg::Connection& conn, const projections::ProjectionSink& sink, engine::Position from,
               int limit, const std::string& owner) {
    auto step = sink.catch_up_step(from, limit, owner);
    auto r = conn.exec(call_replay_sql,
                       pg::Params(step->sql_or_name, sink.name(), limit, owner,
                                  std::to_string(from.transaction_id), std::to_string(from.id)));
    return {
        r.int64(0, 0), {std::stoull(std::string(r.text(0, 1))), r.int64(0, 2)}, r.boolean(0, 3)};
}

// Rethrows `e`, being handled: a session that may not write events (store/sessions.hpp) as a
// Refused that says why, anything else (fencing, locks) as it is.
[[noreturn]] void rethrow_refusal(const projections::ProjectionSink& sink,
                                  const pg::ServerError& e) {
    if (e.sqlstate() != store::event_free_session_sqlstate)
        throw;
    throw Refused(sink.name() +
                  ": a handler appends events, and a replay would append them a second time, so "
                  "rebuild and rollback refuse it (SQLSTATE SL004); keep appending events out of "
                  "the handlers of a projection you rebuild");
}

Step run_step(pg::Connection& conn, const projections::ProjectionSink& sink, engine::Position from,
              int limit, const std::string& owner) {
    auto step = sink.catch_up_step(from, limit, owner);
    auto r = conn.exec(step->sql_or_name, step->params);
    const auto rows_read = r.int64(0, 0);
    return {rows_read, {std::stoull(std::string(r.text(0, 2))), r.int64(0, 3)}, rows_read < limit};
}

// After a batch failed at `at`: replays event by event from there (what succeeds commits, as
// any batch would) to find the event whose handler fails, and throws HandlerFailed naming it.
[[noreturn]] void name_failed_event(pg::Connection& conn, const projections::ProjectionSink& sink,
                                    engine::Position at, int batch_size, const ReplayHooks& hooks,
                                    const pg::ServerError& first) {
    std::string message = first.what();
    std::string sqlstate = first.sqlstate();
    for (int i = 0; i < batch_size && !hooks.events_table.empty(); ++i) {
        try {
            auto s = run_step(conn, sink, at, 1, hooks.owner);
            if (s.rows_read == 0)
                break;
            at = s.at;
        } catch (const pg::ServerError& e) {
            if (store::coordination_of(e))
                throw;
            message = e.what();
            sqlstate = e.sqlstate();
            auto next =
                conn.exec("SELECT id FROM " + hooks.events_table +
                              " WHERE (transaction_id, id) > ($1::xid8, $2) "
                              "ORDER BY transaction_id, id LIMIT 1",
                          pg::Params(std::to_string(at.transaction_id), std::to_string(at.id)));
            const std::int64_t id = next.rows() == 1 ? next.int64(0, 0) : 0;
            throw HandlerFailed(sink.name() + ": the handler failed on event id " +
                                    std::to_string(id) + ": " + message + " (SQLSTATE " + sqlstate +
                                    ")",
                                id, sqlstate);
        }
    }
    throw HandlerFailed(sink.name() + ": a batch after event id " + std::to_string(at.id) +
                            " failed: " + message + " (SQLSTATE " + sqlstate + ")",
                        0, sqlstate);
}

}  // namespace

Replayed replay(pg::Connection& conn, const projections::ProjectionSink& sink,
                engine::Position from, int batch_size, const ReplayHooks& hooks) {
    Replayed out{from, 0};
    // Inside a transaction (the swap's) one statement per batch; otherwise many per round trip.
    const bool in_server = PQtransactionStatus(conn.get()) == PQTRANS_IDLE;
    if (in_server)
        conn.exec(replay_procedure_sql);
    while (true) {
        if (hooks.stop != nullptr && hooks.stop->load())
            throw Stopped();
        Step s;
        try {
            s = in_server ? run_steps(conn, sink, out.at, batch_size, hooks.owner)
                          : run_step(conn, sink, out.at, batch_size, hooks.owner);
        } catch (const pg::ServerError& e) {
            // Fencing and locks are not the handler's failure; nor is a lost connection.
            if (store::coordination_of(e) || e.sqlstate() == store::event_free_session_sqlstate)
                rethrow_refusal(sink, e);
            // The batches before the failing one committed: go on from where they left it.
            const auto at = in_server ? stored_checkpoint(conn, sink.name()) : out.at;
            name_failed_event(conn, sink, at, batch_size, hooks, e);
        }
        out.at = s.at;
        out.events += s.rows_read;
        if (hooks.on_batch)
            hooks.on_batch(out.events);
        if (s.at_head)
            break;
    }
    return out;
}

void install_functions(pg::Connection& conn, const projections::ApplyFunction& function,
                       const engine::Upcast& upcast) {
    if (!upcast.empty()) {
        pg::Transaction tx(conn);
        auto problems = engine::check_upcast(conn, upcast);
        if (!problems.empty())
            throw Refused(config::format(problems.front()));
        tx.commit();
        conn.exec_script(upcast.install_sql());
    }
    conn.exec_script(function.create_sql);
}

engine::Position stored_checkpoint(pg::Connection& conn, const std::string& name) {
    auto r =
        conn.exec("SELECT transaction_id::text, event_id FROM sluice.checkpoints WHERE name = $1",
                  pg::Params(name));
    if (r.rows() == 0)
        return {};
    return {std::stoull(std::string(r.text(0, 0))), r.int64(0, 1)};
}

}  // namespace sluice::daemon
