#include "daemon/rebuild/replay.hpp"

#include "engine/upcast_install.hpp"
#include "store/coordination.hpp"

namespace sluice::daemon {
namespace {

struct Step {
    std::int64_t rows_read = 0;
    engine::Position at;
};

Step run_step(pg::Connection& conn, const projections::ProjectionSink& sink, engine::Position from,
              int limit, const std::string& owner) {
    auto step = sink.catch_up_step(from, limit, owner);
    pg::Result r;
    try {
        r = conn.exec(step->sql_or_name, step->params);
    } catch (const pg::ServerError& e) {
        // The replaying session may not write events (store/sessions.hpp): say why.
        if (e.sqlstate() != store::event_free_session_sqlstate)
            throw;
        throw Refused(
            sink.name() +
            ": a handler appends events, and a replay would append them a second time, so "
            "rebuild and rollback refuse it (SQLSTATE SL004); keep appending events out of "
            "the handlers of a projection you rebuild");
    }
    return {r.int64(0, 0), {std::stoull(std::string(r.text(0, 2))), r.int64(0, 3)}};
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
    while (true) {
        if (hooks.stop != nullptr && hooks.stop->load())
            throw Stopped();
        Step s;
        try {
            s = run_step(conn, sink, out.at, batch_size, hooks.owner);
        } catch (const pg::ServerError& e) {
            // Fencing and locks are not the handler's failure; nor is a lost connection.
            if (store::coordination_of(e))
                throw;
            name_failed_event(conn, sink, out.at, batch_size, hooks, e);
        }
        out.at = s.at;
        out.events += s.rows_read;
        if (hooks.on_batch)
            hooks.on_batch(out.events);
        if (s.rows_read < batch_size)
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
