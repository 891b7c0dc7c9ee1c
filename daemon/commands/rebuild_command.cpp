// `sluice rebuild NAME`: for a projection that owns a schema, a blue/green rebuild
// (daemon/rebuild/blue_green.hpp), asked of the running daemon when one runs
// (daemon/commands/rebuild_request.hpp); otherwise, or with --in-place, reset the projection and
// replay it from the first event, beside a running daemon. The in-place rebuild holds the
// projection's session advisory lock for the whole replay; the daemon's batches for it take the
// transaction-level lock, fail fast (SL002) and wait, while its other projections carry on. When
// the replay reaches the head the lock is released and the daemon goes on from the rebuilt
// checkpoint. A partitioned projection is replayed whole (all its parts locked), then every part's
// checkpoint is set to the end: this is also how a projection moves to a new number of partitions.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "daemon/commands/command.hpp"
#include "daemon/commands/commands.hpp"
#include "daemon/commands/projection_target.hpp"
#include "daemon/commands/rebuild_request.hpp"
#include "daemon/rebuild/blue_green.hpp"
#include "daemon/rebuild/definition_record.hpp"
#include "daemon/rebuild/progress.hpp"
#include "daemon/rebuild/replay.hpp"
#include "engine/upcast_install.hpp"
#include "infra/log/log.hpp"
#include "infra/pg/literal.hpp"
#include "projections/partition.hpp"
#include "projections/projection_sink.hpp"
#include "projections/schema.hpp"
#include "store/migrate.hpp"
#include "store/sessions.hpp"

namespace sluice::daemon {

namespace {

// Takes the subscriber locks of the projection and of each of its parts, so a running daemon
// pauses them (after the batch in flight, waiting at most `lock_timeout`).
std::vector<std::string> lock_subscribers(pg::Connection& conn, const config::Projection& p,
                                          int lock_timeout_seconds) {
    conn.exec("SELECT set_config('lock_timeout', $1, false)",
              pg::Params(std::to_string(lock_timeout_seconds) + "s"));
    std::vector<std::string> locked{p.name};
    for (int i = 0; p.partitions > 1 && i < p.partitions; ++i)
        locked.push_back(projections::part_name(p.name, {i, p.partitions}));
    for (const auto& n : locked)
        conn.exec("SELECT pg_advisory_lock(sluice.subscriber_lock_key($1))", pg::Params(n));
    conn.exec("SET lock_timeout = 0");
    return locked;
}

// Runs setup and reset, and puts the checkpoint back before the first event, in one
// transaction with the reset; parked events and the checkpoints of any parts go with it.
void reset_projection(pg::Connection& conn, const config::Projection& projection,
                      const std::string& table, const engine::Upcast& upcast) {
    auto function =
        projections::apply_function(projection, table, {}, pg::Pooling::session, upcast);
    if (!projection.schema.empty())
        conn.exec(projections::create_schema_sql(projection.schema));
    if (!projection.setup.empty())
        conn.exec_script(projections::with_schema_first(projection.schema, projection.setup));
    install_functions(conn, function, upcast);
    pg::Transaction tx(conn);
    if (!projection.reset.empty())
        conn.exec_script(projections::with_schema_first(projection.schema, projection.reset));
    conn.exec("SELECT sluice.reset_checkpoint($1, '0', 0)", pg::Params(projection.name));
    // Parts of this projection under any partitioning: replaced by this rebuild.
    conn.exec("DELETE FROM sluice.checkpoints WHERE left(name, length($1) + 1) = $1 || '['",
              pg::Params(projection.name));
    conn.exec(
        "DELETE FROM sluice.parked_events WHERE subscriber = $1 "
        "OR left(subscriber, length($1) + 1) = $1 || '['",
        pg::Params(projection.name));
    // Rebuilt through the config's upcasters: the daemon goes on with them.
    conn.exec(
        "INSERT INTO sluice.projection_upcasters (projection, fingerprint) VALUES ($1, $2) "
        "ON CONFLICT (projection) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
        "updated_at = now()",
        pg::Params(projection.name, projections::upcasters_fingerprint(projection, upcast)));
    // And by the config's definition: the daemon no longer reports it as changed.
    record_definition(conn, projection.name, projections::definition_of(projection));
    tx.commit();
}

// A partitioned projection was replayed as a whole: each part starts where the whole ended, and
// so does its applied-event counter (the whole's count is not split among the parts).
void hand_over_to_parts(pg::Connection& conn, const std::vector<std::string>& locked,
                        engine::Position at) {
    pg::Transaction tx(conn);
    for (std::size_t i = 1; i < locked.size(); ++i) {
        conn.exec("SELECT sluice.reset_checkpoint($1, $2::xid8, $3)",
                  pg::Params(locked[i], std::to_string(at.transaction_id), std::to_string(at.id)));
    }
    conn.exec("DELETE FROM sluice.checkpoints WHERE name = $1", pg::Params(locked.front()));
    tx.commit();
}

}  // namespace

namespace {

// Today's rebuild: reset the live read model and replay it, the daemon paused meanwhile.
int rebuild_in_place(pg::Connection& conn, const config::Config& config,
                     const config::Projection& projection, std::int64_t total, int lock_timeout) {
    const std::string table = pg::quote_qualified(config.database.events_table);
    auto locked = lock_subscribers(conn, projection, lock_timeout);
    log::info("rebuild started; the daemon pauses this projection meanwhile",
              {{"projection", projection.name}, {"events", total}});
    const engine::Upcast upcast(config.upcasters, table);
    projections::ProjectionSink sink(projection, table, config.database.statement_timeout, {},
                                     pg::Pooling::session, upcast);
    try {
        reset_projection(conn, projection, table, upcast);
    } catch (const Refused& e) {
        throw UsageError(e.what());
    }
    Progress progress("rebuild", isatty(STDERR_FILENO) != 0);
    ReplayHooks hooks;
    hooks.events_table = table;
    hooks.on_batch = [&](std::int64_t events) { progress.update(events, total); };
    auto replayed = replay(conn, sink, {}, config.tailer.batch_size, hooks);
    progress.update(replayed.events, total, true);
    if (projection.partitions > 1)
        hand_over_to_parts(conn, locked, replayed.at);
    for (const auto& n : locked)
        conn.exec("SELECT pg_advisory_unlock(sluice.subscriber_lock_key($1))", pg::Params(n));
    std::cout << "rebuilt " << projection.name << ": replayed " << replayed.events
              << " events up to event id " << replayed.at.id << "\n";
    return exit_ok;
}

}  // namespace

int rebuild_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    options.add_options()("config,c", po::value<std::string>()->required(), "YAML config file")(
        "name", po::value<std::string>(), "the projection to rebuild")(
        "yes,y", po::bool_switch(), "do not ask for confirmation")(
        "in-place", po::bool_switch(),
        "reset the live read model and replay it (the default for a projection without "
        "schema:; readers see it empty, then filling)")(
        "drop-previous", po::bool_switch(),
        "only drop the previous generation a blue/green rebuild kept (schema NAME__previous), "
        "rebuild nothing")(
        "lock-timeout", po::value<int>()->default_value(60),
        "seconds to wait for the running daemon's batch to finish, and for the swap's locks "
        "(0: no limit; a rebuild that a daemon runs waits 60)")(
        "no-wait", po::bool_switch(),
        "blue/green, asked of a running daemon: return once it is asked, do not follow it")(
        "wait-timeout", po::value<int>()->default_value(0),
        "blue/green, asked of a running daemon: seconds to follow it before giving up (exit 1; "
        "the daemon goes on with it); 0: until it ends")(
        "names", po::value<std::vector<std::string>>(), "further names (an error)");
    po::positional_options_description positional;
    positional.add("name", 1).add("names", -1);
    po::variables_map vm;
    if (!parse_options("rebuild",
                       "NAME --config FILE [--yes] [--in-place | --drop-previous] [--no-wait]\n\n"
                       "Replays every event into a projection. With schema:, a blue/green "
                       "rebuild: the next\ngeneration is built beside the live one and swapped "
                       "in when it has caught up (and\nverify: holds); readers never see it "
                       "empty. A running daemon runs it (asked at\nhttp.listen, or through "
                       "sluice.rebuilds), with the projection as its own config\ndefines it; "
                       "this command follows it to its end. With no daemon running, it runs\n"
                       "here. Without schema:, or with --in-place, the live read model is reset "
                       "and\nrefilled, here, the daemon pausing that projection meanwhile.",
                       options, args, vm, &positional)) {
        return exit_ok;
    }
    auto target = projection_target("rebuild", vm);
    if (!target)
        return exit_usage;
    const config::Config& config = target->config;
    const config::Projection& projection = target->projection();
    const std::string& name = projection.name;
    const bool in_place = vm["in-place"].as<bool>();
    const bool drop = vm["drop-previous"].as<bool>();
    if (in_place && drop)
        throw UsageError("--in-place and --drop-previous exclude each other");
    if (drop && projection.schema.empty()) {
        throw UsageError("projection " + name +
                         " owns no schema (schema:), so it has no previous generation to drop");
    }
    const bool beside = !projection.schema.empty() && !in_place;
    const std::string table = pg::quote_qualified(config.database.events_table);

    bool yes = vm["yes"].as<bool>();
    if (!yes && !isatty(STDIN_FILENO)) {
        throw UsageError("not on a terminal: pass --yes to rebuild '" + name + "'");
    }
    auto conn = pg::Connection::open(target->url, 10, std::string(store::sessions::rebuild));
    bool have_table =
        conn.exec("SELECT to_regclass($1) IS NOT NULL", pg::Params(table)).boolean(0, 0);
    std::int64_t total = have_table ? conn.exec("SELECT count(*) FROM " + table).int64(0, 0) : 0;
    const std::string question =
        drop ? "Drop the previous generation of projection '" + name + "' (schema " +
                   projections::generations(projection).previous + ")?"
        : beside ? "Rebuild projection '" + name + "' beside the live one: replay " +
                       std::to_string(total) + " events into schema " +
                       projections::generations(projection).next + " and swap it in?"
                 : "Rebuild projection '" + name + "': run its reset SQL and replay " +
                       std::to_string(total) + " events?";
    if (!yes && !confirm(question)) {
        std::cerr << "rebuild cancelled\n";
        return exit_ok;
    }
    // Only after the answer: nothing is written when the operator says no.
    store::migrate(conn, {config.database.events_table, config.database.notify_channel});
    BlueGreenOptions blue_green;
    blue_green.lock_timeout_seconds = vm["lock-timeout"].as<int>();
    if (drop) {
        const bool dropped = drop_previous(conn, projection, blue_green);
        std::cout << (dropped ? "dropped the previous generation of " + name
                              : name + " had no previous generation")
                  << "\n";
        return exit_ok;
    }
    if (beside) {
        RebuildRequest request;
        request.blue_green = blue_green;
        request.wait = !vm["no-wait"].as<bool>();
        request.wait_timeout = std::chrono::seconds(std::max(0, vm["wait-timeout"].as<int>()));
        return request_rebuild(conn, config, projection, request);
    }
    return rebuild_in_place(conn, config, projection, total, vm["lock-timeout"].as<int>());
}

}  // namespace sluice::daemon
