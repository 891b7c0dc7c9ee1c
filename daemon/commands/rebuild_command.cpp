// `sluice rebuild NAME`: reset a projection and replay it from the first event, beside a running
// daemon. The rebuild holds the projection's session advisory lock for the whole replay; the
// daemon's batches for it take the transaction-level lock, fail fast (SL002) and wait, while its
// other projections carry on. When the replay reaches the head the lock is released and the
// daemon goes on from the rebuilt checkpoint. A partitioned projection is replayed whole (all
// its parts locked), then every part's checkpoint is set to the end: this is also how a
// projection moves to a new number of partitions.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "daemon/commands/command.hpp"
#include "daemon/commands/commands.hpp"
#include "engine/upcast_install.hpp"
#include "infra/log/log.hpp"
#include "infra/pg/literal.hpp"
#include "projections/partition.hpp"
#include "projections/projection_sink.hpp"
#include "store/migrate.hpp"

namespace sluice::daemon {

namespace {

using Clock = std::chrono::steady_clock;

std::string format_duration(double seconds) {
    if (seconds < 0 || seconds > 1e7)
        return "?";
    long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600) {
        std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    } else if (s >= 60) {
        std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%lds", s);
    }
    return buf;
}

class Progress {
  public:
    Progress(std::int64_t total, bool terminal) : total_(total), terminal_(terminal) {}

    // `final` prints the last figure unless the line already shows it (then only ends the
    // terminal's line), so the final count appears once.
    void update(std::int64_t done, bool final = false) {
        auto now = Clock::now();
        if (final && done == printed_) {
            if (terminal_)
                std::cerr << "\n";
            return;
        }
        if (!final && now - last_ < (terminal_ ? std::chrono::milliseconds(200)
                                               : std::chrono::milliseconds(2000))) {
            return;
        }
        last_ = now;
        printed_ = done;
        double elapsed = std::chrono::duration<double>(now - start_).count();
        double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
        std::int64_t total = std::max(total_, done);
        double eta = rate > 0 ? static_cast<double>(total - done) / rate : -1;
        int percent = total > 0 ? static_cast<int>(100 * done / total) : 100;
        char line[200];
        if (terminal_) {
            int filled = percent * 30 / 100;
            std::snprintf(line, sizeof line, "\r[%-30s] %3d%% %lld/%lld events, %.0f/s, ETA %s ",
                          std::string(static_cast<std::size_t>(filled), '#').c_str(), percent,
                          static_cast<long long>(done), static_cast<long long>(total), rate,
                          format_duration(eta).c_str());
        } else {
            std::snprintf(line, sizeof line, "rebuild: %lld/%lld events (%d%%), %.0f/s, ETA %s\n",
                          static_cast<long long>(done), static_cast<long long>(total), percent,
                          rate, format_duration(eta).c_str());
        }
        std::cerr << line << std::flush;
        if (final && terminal_)
            std::cerr << "\n";
    }

  private:
    std::int64_t total_;
    bool terminal_;
    Clock::time_point start_ = Clock::now();
    Clock::time_point last_{};
    std::int64_t printed_ = -1;  // the count of the last line printed
};

bool confirm(const std::string& name, std::int64_t total) {
    std::cerr << "Rebuild projection '" << name << "': run its reset SQL and replay " << total
              << " events? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "y" || answer == "Y" || answer == "yes";
}

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
    if (!projection.setup.empty())
        conn.exec_script(projection.setup);
    if (!upcast.empty()) {
        pg::Transaction tx(conn);
        auto problems = engine::check_upcast(conn, upcast);
        if (!problems.empty())
            throw UsageError(config::format(problems.front()));
        tx.commit();
        conn.exec_script(upcast.install_sql());
    }
    conn.exec_script(function.create_sql);
    pg::Transaction tx(conn);
    if (!projection.reset.empty())
        conn.exec_script(projection.reset);
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
    tx.commit();
}

struct Replayed {
    engine::Position at;
    std::int64_t events = 0;
};

// The same server-side catch-up the daemon uses: one statement per batch, its own
// transaction, the checkpoint moved with it.
Replayed replay(pg::Connection& conn, const projections::ProjectionSink& sink, std::int64_t total,
                int batch_size) {
    Progress progress(total, isatty(STDERR_FILENO) != 0);
    Replayed out;
    while (true) {
        // No ownership check: the rebuild holds the subscriber's session lock instead.
        auto step = sink.catch_up_step(out.at, batch_size, "");
        auto r = conn.exec(step->sql_or_name, step->params);
        auto rows_read = r.int64(0, 0);
        if (rows_read > 0)
            out.at = {std::stoull(std::string(r.text(0, 2))), r.int64(0, 3)};
        out.events += rows_read;
        progress.update(out.events);
        if (rows_read < batch_size)
            break;
    }
    progress.update(out.events, true);
    return out;
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

// Why `name` cannot be rebuilt: it is a webhook, or no projection has it; lists the projections.
std::string not_a_projection(const config::Config& config, const std::string& name,
                             const std::string& path) {
    std::string projections;
    for (const auto& p : config.projections)
        projections += (projections.empty() ? "" : ", ") + p.name;
    projections = projections.empty() ? "it has no projections" : "projections: " + projections;
    bool webhook = std::any_of(config.webhooks.begin(), config.webhooks.end(),
                               [&](const config::Webhook& w) { return w.name == name; });
    if (webhook) {
        return "'" + name + "' is a webhook in " + path +
               ", not a projection; only projections are rebuilt (" + projections + ")";
    }
    return "no projection named '" + name + "' in " + path + " (" + projections + ")";
}

}  // namespace

int rebuild_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    options.add_options()("config,c", po::value<std::string>()->required(), "YAML config file")(
        "name", po::value<std::string>(), "the projection to rebuild")(
        "yes,y", po::bool_switch(), "do not ask for confirmation")(
        "lock-timeout", po::value<int>()->default_value(60),
        "seconds to wait for the running daemon's batch to finish (0: no limit)")(
        "names", po::value<std::vector<std::string>>(), "further names (an error)");
    po::positional_options_description positional;
    positional.add("name", 1).add("names", -1);
    po::variables_map vm;
    if (!parse_options("rebuild", "NAME --config FILE [--yes]", options, args, vm, &positional)) {
        return exit_ok;
    }
    if (vm.count("name") == 0U)
        throw UsageError("give the projection to rebuild: sluice rebuild NAME --config FILE");
    if (vm.count("names") != 0U) {
        throw UsageError("rebuild takes one projection name, got also '" +
                         vm["names"].as<std::vector<std::string>>().front() + "'");
    }
    if (vm["lock-timeout"].as<int>() < 0) {
        throw UsageError("--lock-timeout must be 0 (no limit) or more seconds, got " +
                         std::to_string(vm["lock-timeout"].as<int>()));
    }
    auto config = load_config_or_report(vm["config"].as<std::string>());
    if (!config)
        return exit_usage;
    std::string name = vm["name"].as<std::string>();
    auto it = std::find_if(config->projections.begin(), config->projections.end(),
                           [&](const config::Projection& p) { return p.name == name; });
    if (it == config->projections.end())
        throw UsageError(not_a_projection(*config, name, vm["config"].as<std::string>()));
    const config::Projection& projection = *it;
    std::string table = pg::quote_qualified(config->database.events_table);

    bool yes = vm["yes"].as<bool>();
    if (!yes && !isatty(STDIN_FILENO)) {
        throw UsageError("not on a terminal: pass --yes to rebuild '" + name + "'");
    }
    // The replay holds a session lock: behind a transaction-mode pool it needs the direct
    // connection that listen_url names.
    const auto& database = config->database;
    std::string url = database.url;
    if (database.pooling == pg::Pooling::transaction) {
        if (database.listen_url.empty()) {
            throw UsageError(
                "sluice rebuild holds a session lock, which a transaction-mode pool cannot "
                "keep: set database.listen_url to a direct connection (database.pooling is "
                "transaction)");
        }
        url = database.listen_url;
    }
    auto conn = pg::Connection::open(url, 10, "sluice rebuild");
    bool have_table =
        conn.exec("SELECT to_regclass($1) IS NOT NULL", pg::Params(table)).boolean(0, 0);
    std::int64_t total = have_table ? conn.exec("SELECT count(*) FROM " + table).int64(0, 0) : 0;
    if (!yes && !confirm(name, total)) {
        std::cerr << "rebuild cancelled\n";
        return exit_ok;
    }
    // Only after the answer: nothing is written when the operator says no.
    store::migrate(conn, {config->database.events_table, config->database.notify_channel});
    auto locked = lock_subscribers(conn, projection, vm["lock-timeout"].as<int>());
    log::info("rebuild started; the daemon pauses this projection meanwhile",
              {{"projection", name}, {"events", total}});

    const engine::Upcast upcast(config->upcasters, table);
    projections::ProjectionSink sink(projection, table, config->database.statement_timeout, {},
                                     pg::Pooling::session, upcast);
    reset_projection(conn, projection, table, upcast);
    auto replayed = replay(conn, sink, total, config->tailer.batch_size);
    if (projection.partitions > 1)
        hand_over_to_parts(conn, locked, replayed.at);
    for (const auto& n : locked)
        conn.exec("SELECT pg_advisory_unlock(sluice.subscriber_lock_key($1))", pg::Params(n));
    std::cout << "rebuilt " << name << ": replayed " << replayed.events << " events up to event id "
              << replayed.at.id << "\n";
    return exit_ok;
}

}  // namespace sluice::daemon
