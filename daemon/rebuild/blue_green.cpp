#include "daemon/rebuild/blue_green.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "daemon/rebuild/definition_record.hpp"
#include "daemon/rebuild/progress_recorder.hpp"
#include "infra/log/log.hpp"
#include "infra/pg/literal.hpp"
#include "infra/sql/text_hash.hpp"
#include "projections/partition.hpp"
#include "projections/projection_sink.hpp"
#include "projections/schema.hpp"
#include "store/coordination.hpp"
#include "store/rebuilds.hpp"

namespace sluice::daemon {
namespace {

using namespace std::chrono_literals;

constexpr const char* lock_not_available = "55P03";
constexpr Oid bool_oid = 16;

// The generation a swap brings in: its schema and its checkpoint.
struct Incoming {
    std::string schema;
    std::string checkpoint;
    bool is_previous = false;  // a rollback: the live generation and it trade places
};

// One checkpoint of a generation, what its batches apply and its sink: the whole projection, or
// one part of a partitioned one (checkpoint `NAME[k/N]`, `NAME@previous[k/N]`).
struct Piece {
    std::string checkpoint;
    projections::ApplyFunction function;
    projections::ProjectionSink sink;
};

// What the command needs to replay one generation: the projection as it runs there (the
// generation's schema first on the search_path) and its pieces. A next generation is built
// whole; a previous one has the pieces the live one had when it went out.
struct Generation {
    config::Projection projection;
    std::vector<Piece> pieces;
};

Generation generation_of(const config::Config& config, const config::Projection& projection,
                         const Incoming& incoming, const engine::Upcast& upcast, int parts = 1) {
    config::Projection p = projection;
    p.schema = incoming.schema;
    const std::string table = pg::quote_qualified(config.database.events_table);
    Generation g{p, {}};
    for (int i = 0; i < parts; ++i) {
        const projections::Part part{i, parts};
        const std::string checkpoint = projections::part_name(incoming.checkpoint, part);
        g.pieces.push_back(
            {checkpoint, projections::apply_function(p, table, part, pg::Pooling::session, upcast),
             projections::ProjectionSink(p, table, config.database.statement_timeout, part,
                                         pg::Pooling::session, upcast, checkpoint)});
    }
    return g;
}

// The checkpoints and parked events of one generation: named `name`, or `name[k/N]` for its
// parts (SQL conditions on a column, $1 the name).
std::string rows_of(const std::string& column) {
    return "(" + column + " = $1 OR left(" + column + ", length($1) + 1) = $1 || '[')";
}

// Renames the checkpoints and parked events of a generation, its parts' with them.
void rename_rows(pg::Connection& conn, const std::string& from, const std::string& to) {
    conn.exec("UPDATE sluice.checkpoints SET name = $2 || substr(name, length($1) + 1) WHERE " +
                  rows_of("name"),
              pg::Params(from, to));
    conn.exec(
        "UPDATE sluice.parked_events SET subscriber = $2 || substr(subscriber, length($1) + 1) "
        "WHERE " +
            rows_of("subscriber"),
        pg::Params(from, to));
}

void delete_rows(pg::Connection& conn, const std::string& name) {
    conn.exec("DELETE FROM sluice.checkpoints WHERE " + rows_of("name"), pg::Params(name));
    conn.exec("DELETE FROM sluice.parked_events WHERE " + rows_of("subscriber"), pg::Params(name));
}

// How many parts the generation whose checkpoints are `name` or `name[k/N]` has (1: whole);
// 0 when it has no checkpoint.
int parts_of(pg::Connection& conn, const std::string& name) {
    auto r = conn.exec(
        "SELECT coalesce(max(CASE WHEN name = $1 THEN 1 "
        "ELSE substring(name FROM '/([0-9]+)]$')::int END), 0) FROM sluice.checkpoints WHERE " +
            rows_of("name"),
        pg::Params(name));
    return static_cast<int>(r.int64(0, 0));
}

// The whole projection's checkpoint, where a partitioned one's new generation was built, becomes
// one per part, each at the end of the build (its applied-event counter counting from there:
// the whole's count is not split); the parked events go to the part of their aggregate.
void split_into_parts(pg::Connection& conn, const config::Config& config,
                      const config::Projection& projection, engine::Position at) {
    const int count = projection.partitions;
    for (int i = 0; i < count; ++i) {
        conn.exec("SELECT sluice.reset_checkpoint($1, $2::xid8, $3)",
                  pg::Params(projections::part_name(projection.name, {i, count}),
                             std::to_string(at.transaction_id), std::to_string(at.id)));
    }
    conn.exec("DELETE FROM sluice.checkpoints WHERE name = $1", pg::Params(projection.name));
    conn.exec(
        "UPDATE sluice.parked_events p SET subscriber = p.subscriber || '[' || "
        "(sluice.event_part(e.aggregate_id, $2) + 1) || '/' || $2 || ']' FROM " +
            pg::quote_qualified(config.database.events_table) +
            " e WHERE p.subscriber = $1 AND e.id = p.event_id",
        pg::Params(projection.name, count));
}

// The subscriber locks the daemon's batches take for the live generation: the projection's and
// its parts' under the config and under any part count its checkpoints still have.
std::vector<std::string> live_subscribers(pg::Connection& conn,
                                          const config::Projection& projection) {
    std::vector<std::string> names{projection.name};
    for (int i = 0; projection.partitions > 1 && i < projection.partitions; ++i)
        names.push_back(projections::part_name(projection.name, {i, projection.partitions}));
    auto r = conn.exec("SELECT name FROM sluice.checkpoints WHERE " + rows_of("name") +
                           " AND name <> $1 ORDER BY name",
                       pg::Params(projection.name));
    for (int i = 0; i < r.rows(); ++i) {
        std::string n(r.text(i, 0));
        if (std::find(names.begin(), names.end(), n) == names.end())
            names.push_back(std::move(n));
    }
    return names;
}

bool schema_exists(pg::Connection& conn, const std::string& schema) {
    return conn
        .exec("SELECT to_regnamespace($1) IS NOT NULL", pg::Params(pg::quote_identifier(schema)))
        .boolean(0, 0);
}

bool checkpoint_exists(pg::Connection& conn, const std::string& name) {
    return conn
        .exec("SELECT EXISTS (SELECT 1 FROM sluice.checkpoints WHERE name = $1)", pg::Params(name))
        .boolean(0, 0);
}

// Runs `work` in a transaction whose lock waits end after a short lock_timeout, and again after
// each such timeout until `budget_seconds` (0: no limit) have passed: another session's lock
// (the daemon's batch, a reader's on a table to be dropped) is waited for in short stretches in
// which the swap queues behind nobody for long.
template <class Work>
void with_lock_retries(pg::Connection& conn, const config::Projection& projection,
                       const std::string& what, int budget_seconds, Work work) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(budget_seconds);
    for (int attempt = 1;; ++attempt) {
        try {
            pg::Transaction tx(conn);
            conn.exec("SET LOCAL lock_timeout = '2s'");
            work();
            tx.commit();
            return;
        } catch (const pg::ServerError& e) {
            if (e.sqlstate() != lock_not_available)
                throw;
            if (budget_seconds > 0 && std::chrono::steady_clock::now() >= deadline) {
                throw std::runtime_error(
                    what + " of projection " + projection.name + ": locks still held after " +
                    std::to_string(budget_seconds) +
                    " s (a long-running query on the projection's tables?); nothing was changed, "
                    "run it again or raise --lock-timeout");
            }
            log::info("waiting for locks; trying again",
                      {{"projection", projection.name}, {"step", what}, {"attempt", attempt}});
        }
        std::this_thread::sleep_for(200ms);
    }
}

// Creates the next generation (schema, setup, checkpoint at the start) in one transaction, or
// keeps the one an interrupted rebuild left when its definition is this one. Returns whether it
// resumed.
bool prepare_next(pg::Connection& conn, const Generation& next,
                  const projections::Generations& names) {
    const std::string definition =
        "sluice generation " +
        sql::text_hash(next.projection.setup + "\n" + next.pieces.front().function.create_sql);
    if (schema_exists(conn, names.next) && checkpoint_exists(conn, names.next_checkpoint)) {
        auto comment = conn.exec("SELECT obj_description(to_regnamespace($1), 'pg_namespace')",
                                 pg::Params(pg::quote_identifier(names.next)));
        if (comment.optional_text(0, 0) == definition)
            return true;
        log::info(
            "the next generation left by an earlier rebuild has another definition; "
            "building it afresh",
            {{"projection", next.projection.name}, {"schema", names.next}});
    }
    pg::Transaction tx(conn);
    const std::string schema = pg::quote_identifier(names.next);
    conn.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    conn.exec("CREATE SCHEMA " + schema);
    conn.exec("COMMENT ON SCHEMA " + schema + " IS " + pg::quote_literal(definition));
    if (!next.projection.setup.empty())
        conn.exec_script(projections::with_schema_first(names.next, next.projection.setup));
    conn.exec("SELECT sluice.reset_checkpoint($1, '0', 0)", pg::Params(names.next_checkpoint));
    conn.exec("DELETE FROM sluice.parked_events WHERE subscriber = $1",
              pg::Params(names.next_checkpoint));
    tx.commit();
    return false;
}

// Catches a piece of a generation that is not live up to the head; its batches commit one by
// one. `done` counts from the first event, so a resumed build goes on from where it was (for a
// part, every event counts in the total: the progress of a partitioned rollback is rough).
Replayed catch_up(pg::Connection& conn, const config::Config& config,
                  const config::Projection& projection, const Piece& piece,
                  const std::string& label, const BlueGreenOptions& options) {
    const std::string table = pg::quote_qualified(config.database.events_table);
    const auto from = stored_checkpoint(conn, piece.checkpoint);
    auto counts = conn.exec(
        "SELECT count(*), count(*) FILTER (WHERE (transaction_id, id) > "
        "($1::xid8, $2::bigint)) FROM " +
            table,
        pg::Params(std::to_string(from.transaction_id), std::to_string(from.id)));
    const std::int64_t all = counts.int64(0, 0);
    const std::int64_t after = counts.int64(0, 1);
    ProgressRecorder progress(conn, projection, options, label, all - after, all);
    progress.batch(0, false);
    ReplayHooks hooks = options.hooks;
    hooks.events_table = table;
    hooks.on_batch = [&](std::int64_t events) { progress.batch(events); };
    auto replayed = replay(conn, piece.sink, from, config.tailer.batch_size, hooks);
    progress.batch(replayed.events, true);
    return replayed;
}

// The projection's `verify:` query with the next generation first on the search_path (the live
// one reachable by its schema name); rolled back. Returns the reason it refuses, "" to go on.
std::string verify(pg::Connection& conn, const config::Projection& projection,
                   const std::string& next) {
    if (projection.verify.empty())
        return {};
    pg::Transaction tx(conn);
    conn.exec(
        "SELECT set_config('search_path', $1 || ', ' || current_setting('search_path'), true)",
        pg::Params(pg::quote_identifier(next)));
    pg::Result r;
    try {
        r = conn.exec(projection.verify);
    } catch (const pg::ServerError& e) {
        return std::string("it failed: ") + e.what() + " (SQLSTATE " + e.sqlstate() + ")";
    }
    if (r.rows() != 1 || r.columns() != 1 || PQftype(r.get(), 0) != bool_oid) {
        return "it must return one row with one boolean column, got " + std::to_string(r.rows()) +
               " row(s) of " + std::to_string(r.columns()) + " column(s)";
    }
    if (r.is_null(0, 0) || !r.boolean(0, 0))
        return std::string("it returned ") + (r.is_null(0, 0) ? "NULL" : "false");
    return {};
}

// Gives the readers of the schema that went out the same privileges on the one that came in
// (schema USAGE and the like, and each table's privileges on the table of the same name), or
// the config's `grants:` when it has them.
void grant_readers(pg::Connection& conn, const config::Projection& projection,
                   const std::string& from_schema, const std::string& to_schema) {
    if (!projection.grants.empty()) {
        conn.exec_script(projections::grants_sql(to_schema, projection.grants));
        return;
    }
    auto grants = conn.exec(
        "WITH g AS (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
        "                  ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee, "
        "                  a.privilege_type, NULL::name AS relname "
        "             FROM pg_namespace n, aclexplode(n.nspacl) a "
        "            WHERE n.nspname = $1 AND a.grantee <> n.nspowner "
        "           UNION ALL "
        "           SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
        "                  ELSE quote_ident(pg_get_userbyid(a.grantee)) END, "
        "                  a.privilege_type, c.relname "
        "             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
        "                  aclexplode(c.relacl) a "
        "            WHERE n.nspname = $1 AND a.grantee <> c.relowner "
        "              AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "              AND EXISTS (SELECT 1 FROM pg_class c2 JOIN pg_namespace n2 "
        "                            ON n2.oid = c2.relnamespace "
        "                           WHERE n2.nspname = $2 AND c2.relname = c.relname)) "
        "SELECT CASE WHEN relname IS NULL "
        "       THEN format('GRANT %s ON SCHEMA %I TO %s', privilege_type, $2::text, grantee) "
        "       ELSE format('GRANT %s ON %I.%I TO %s', privilege_type, $2::text, relname, "
        "                   grantee) END FROM g",
        pg::Params(from_schema, to_schema));
    for (int i = 0; i < grants.rows(); ++i)
        conn.exec(std::string(grants.text(i, 0)));
}

void rename_schema(pg::Connection& conn, const std::string& from, const std::string& to) {
    conn.exec("ALTER SCHEMA " + pg::quote_identifier(from) + " RENAME TO " +
              pg::quote_identifier(to));
}

// The swap transaction (see the header). Returns the position the live generation is at now.
engine::Position swap(pg::Connection& conn, const config::Config& config,
                      const config::Projection& projection, const Generation& incoming_generation,
                      const Incoming& incoming, const BlueGreenOptions& options) {
    const auto names = projections::generations(projection);
    engine::Position live_at;
    with_lock_retries(conn, projection, "swap", options.lock_timeout_seconds, [&] {
        // The daemon's batches for the projection (or its parts) wait from here to the commit.
        for (const auto& name : live_subscribers(conn, projection)) {
            conn.exec("SELECT pg_advisory_xact_lock(sluice.subscriber_lock_key($1))",
                      pg::Params(name));
        }
        ReplayHooks hooks;
        hooks.owner = options.hooks.owner;
        hooks.events_table = pg::quote_qualified(config.database.events_table);
        Replayed last;
        for (const auto& piece : incoming_generation.pieces) {
            // The pieces' functions share one name: each installs its own before it replays.
            if (incoming_generation.pieces.size() > 1)
                conn.exec_script(piece.function.create_sql);
            const auto replayed =
                replay(conn, piece.sink, stored_checkpoint(conn, piece.checkpoint),
                       config.tailer.batch_size, hooks);
            last.at = std::max(last.at, replayed.at);
            last.events += replayed.events;
        }
        const bool had_live = schema_exists(conn, names.live);
        if (incoming.is_previous) {
            const std::string parked = names.live + "__swap";
            rename_schema(conn, names.live, parked);
            rename_schema(conn, names.previous, names.live);
            rename_schema(conn, parked, names.previous);
        } else {
            if (had_live)
                rename_schema(conn, names.live, names.previous);
            rename_schema(conn, names.next, names.live);
        }
        // Checkpoints and parked events go with their generations (parts, applied-event counters
        // and all): the incoming generation's take the live names; the ones that went out keep
        // theirs as the previous generation's, for a rollback. Parked events belong to the
        // generation their handler failed in.
        const std::string went_out = projection.name + "@swap";
        delete_rows(conn, went_out);
        if (had_live)
            rename_rows(conn, projection.name, went_out);
        else
            delete_rows(conn, projection.name);
        rename_rows(conn, incoming.checkpoint, projection.name);
        delete_rows(conn, names.previous_checkpoint);
        rename_rows(conn, went_out, names.previous_checkpoint);
        // A partitioned projection's new generation was built whole: each part takes it over.
        if (projection.partitions > 1 && checkpoint_exists(conn, projection.name))
            split_into_parts(conn, config, projection, last.at);
        // The upcasters each generation was built through go with it (the daemon refuses a
        // read model built through others than its config's: projection_sink.hpp).
        const auto fingerprint = [&](const std::string& name) {
            auto r = conn.exec(
                "SELECT fingerprint FROM sluice.projection_upcasters WHERE projection = $1",
                pg::Params(name));
            return r.rows() == 0 ? std::string() : std::string(r.text(0, 0));
        };
        const std::string outgoing = fingerprint(projection.name);
        const std::string incoming_fingerprint =
            incoming.is_previous
                ? fingerprint(names.previous_checkpoint)
                : projections::upcasters_fingerprint(
                      projection,
                      engine::Upcast(config.upcasters,
                                     pg::quote_qualified(config.database.events_table)));
        const std::string upsert =
            "INSERT INTO sluice.projection_upcasters (projection, fingerprint) VALUES ($1, $2) "
            "ON CONFLICT (projection) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
            "updated_at = now()";
        conn.exec(upsert, pg::Params(projection.name, incoming_fingerprint));
        if (had_live)
            conn.exec(upsert, pg::Params(names.previous_checkpoint, outgoing));
        // So do the definitions they were built by (store/definitions.hpp).
        swap_definitions(conn, projection.name, incoming.checkpoint,
                         had_live ? names.previous_checkpoint : std::string());
        if (had_live)
            grant_readers(conn, projection, names.previous, names.live);
        else if (!projection.grants.empty())
            conn.exec_script(projections::grants_sql(names.live, projection.grants));
        live_at = last.at;
    });
    return live_at;
}

// What status shows of the command (store/rebuilds.hpp); autocommitted, outside the swap.
void set_phase(pg::Connection& conn, const config::Projection& projection, std::string_view phase) {
    conn.exec(store::set_rebuild_phase_sql, pg::Params(projection.name, std::string(phase)));
}

void end_phases(pg::Connection& conn, const config::Projection& projection, std::string_view phase,
                const std::string& error = {}) {
    conn.exec(store::end_rebuild_sql,
              pg::Params(projection.name, std::string(phase),
                         error.empty() ? std::optional<std::string>() : std::optional(error)));
}

// Runs `work` (a rebuild or rollback); what keeps it from ever finishing as configured (a
// refusal, a handler that fails) ends the row in 'failed' with the error. A stop, a lost
// connection or lost ownership leave the row as it is: it resumes.
template <class Work>
Outcome recording_failure(pg::Connection& conn, const config::Projection& projection,
                          const std::string& command, Work work) {
    std::string error;
    bool refused = false;
    try {
        return work();
    } catch (const Refused& e) {
        error = e.what();
        refused = true;
    } catch (const HandlerFailed& e) {
        error = e.what();
    } catch (const pg::ServerError& e) {
        if (store::coordination_of(e) || e.sqlstate() == "57014")
            throw;
        error = std::string(e.what()) + " (SQLSTATE " + e.sqlstate() + ")";
    }
    const std::string message = command + " of projection " + projection.name + " failed: " + error;
    try {
        end_phases(conn, projection, store::rebuild_phase::failed, message);
    } catch (const std::exception& e) {
        log::warn("could not record the failed rebuild",
                  {{"projection", projection.name}, {"error", e.what()}});
    }
    if (refused)
        throw Refused(message);
    throw std::runtime_error(message);
}

}  // namespace

Outcome rebuild_beside(pg::Connection& conn, const config::Config& config,
                       const config::Projection& projection, const BlueGreenOptions& options) {
    conn.exec(store::start_rebuild_sql,
              pg::Params(projection.name, "rebuild", options.instance, options.reason));
    return recording_failure(conn, projection, "rebuild", [&] {
        const auto names = projections::generations(projection);
        const engine::Upcast upcast(config.upcasters,
                                    pg::quote_qualified(config.database.events_table));
        const Incoming incoming{names.next, names.next_checkpoint, false};
        const auto next = generation_of(config, projection, incoming, upcast);

        const bool resumed = prepare_next(conn, next, names);
        record_definition(conn, names.next_checkpoint, projections::definition_of(projection));
        install_functions(conn, next.pieces.front().function, upcast);
        log::info(resumed ? "resuming the next generation from its checkpoint"
                          : "building the next generation beside the live one",
                  {{"projection", projection.name},
                   {"phase", "building"},
                   {"schema", names.next},
                   {"instance", options.instance}});
        const auto built =
            catch_up(conn, config, projection, next.pieces.front(), "rebuild", options);

        set_phase(conn, projection, store::rebuild_phase::verifying);
        log::info("verifying the next generation",
                  {{"projection", projection.name}, {"phase", "verifying"}});
        if (auto refused = verify(conn, projection, names.next); !refused.empty()) {
            const std::string why = "rebuild of " + projection.name +
                                    " stopped before the swap: verify " + refused +
                                    "; the live generation stays in schema " + names.live +
                                    ", the new one is kept in " + names.next +
                                    " (running sluice rebuild again goes on from it)";
            end_phases(conn, projection, store::rebuild_phase::verify_failed, why);
            log::warn("verify refused the next generation",
                      {{"projection", projection.name}, {"reason", refused}});
            return Outcome{false, why};
        }
        if (options.hooks.stop != nullptr && options.hooks.stop->load())
            throw Stopped();
        set_phase(conn, projection, store::rebuild_phase::swapping);
        if (drop_previous(conn, projection, options))
            log::info("dropped the previous generation", {{"projection", projection.name}});
        log::info("swapping the next generation in",
                  {{"projection", projection.name}, {"phase", "swapping"}});
        const auto at = swap(conn, config, projection, next, incoming, options);
        end_phases(conn, projection, store::rebuild_phase::done);
        log::info("rebuild done: the new generation is live",
                  {{"projection", projection.name}, {"events", built.events}, {"event_id", at.id}});
        return Outcome{true, "rebuilt " + projection.name + ": the new generation (replayed " +
                                 std::to_string(built.events) + " events) is live in schema " +
                                 names.live + " at event id " + std::to_string(at.id) +
                                 "; the previous one is kept in " + names.previous +
                                 " (sluice rollback " + projection.name + ")"};
    });
}

Outcome roll_back(pg::Connection& conn, const config::Config& config,
                  const config::Projection& projection, const BlueGreenOptions& options) {
    const auto names = projections::generations(projection);
    const int parts = parts_of(conn, names.previous_checkpoint);
    if (!schema_exists(conn, names.previous) || parts == 0) {
        throw Refused("projection " + projection.name + " has no previous generation (schema " +
                      names.previous +
                      "): only a blue/green rebuild keeps one, until the next rebuild or "
                      "--drop-previous");
    }
    const engine::Upcast upcast(config.upcasters,
                                pg::quote_qualified(config.database.events_table));
    if (parts != projection.partitions) {
        throw Refused("the previous generation of projection " + projection.name + " has " +
                      std::to_string(parts) + " partition(s) and the config " +
                      std::to_string(projection.partitions) +
                      ": set partitions: " + std::to_string(parts) + " to roll back to it");
    }
    const Incoming incoming{names.previous, names.previous_checkpoint, true};
    const auto previous = generation_of(config, projection, incoming, upcast, parts);
    conn.exec(store::start_rebuild_sql,
              pg::Params(projection.name, "rollback", options.instance, options.reason));
    return recording_failure(conn, projection, "rollback", [&] {
        log::info(
            "catching the previous generation up",
            {{"projection", projection.name}, {"phase", "building"}, {"schema", names.previous}});
        std::int64_t caught_up = 0;
        for (const auto& piece : previous.pieces) {
            install_functions(conn, piece.function, upcast);
            caught_up += catch_up(conn, config, projection, piece, "rollback", options).events;
        }
        set_phase(conn, projection, store::rebuild_phase::swapping);
        log::info("swapping the previous generation back in",
                  {{"projection", projection.name}, {"phase", "swapping"}});
        const auto at = swap(conn, config, projection, previous, incoming, options);
        end_phases(conn, projection, store::rebuild_phase::done);
        return Outcome{true, "rolled back " + projection.name +
                                 ": the previous generation (caught up by " +
                                 std::to_string(caught_up) + " events) is live in schema " +
                                 names.live + " at event id " + std::to_string(at.id) +
                                 "; the one it replaced is kept in " + names.previous};
    });
}

bool drop_previous(pg::Connection& conn, const config::Projection& projection,
                   const BlueGreenOptions& options) {
    const auto names = projections::generations(projection);
    bool dropped = false;
    with_lock_retries(
        conn, projection, "dropping the previous generation", options.lock_timeout_seconds, [&] {
            dropped = schema_exists(conn, names.previous) ||
                      parts_of(conn, names.previous_checkpoint) > 0;
            conn.exec("DROP SCHEMA IF EXISTS " + pg::quote_identifier(names.previous) + " CASCADE");
            delete_rows(conn, names.previous_checkpoint);
            conn.exec("DELETE FROM sluice.projection_upcasters WHERE projection = $1",
                      pg::Params(names.previous_checkpoint));
            forget_definition(conn, names.previous_checkpoint);
        });
    return dropped;
}

}  // namespace sluice::daemon
