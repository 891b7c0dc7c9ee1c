#include "daemon/commands/rebuild_request.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <iostream>
#include <thread>

#include "daemon/commands/command.hpp"
#include "daemon/commands/http_get.hpp"
#include "daemon/part_settings.hpp"
#include "daemon/rebuild/progress.hpp"
#include "infra/log/log.hpp"
#include "projections/schema.hpp"
#include "store/rebuilds.hpp"

namespace sluice::daemon {
namespace {

using namespace std::chrono_literals;
constexpr const char* reason = "sluice rebuild";

enum class Asked { by_http, in_database };

// The daemon at http.listen records the request; nullopt when none answers there (or it
// refuses a peer it does not take for local).
std::optional<Asked> ask_daemon(const config::Config& config, const std::string& name) {
    if (!config.http.enabled)
        return std::nullopt;
    auto answer = http_request(config.http.listen, "POST", "/rebuilds/" + name, 5s);
    if (!answer)
        return std::nullopt;
    if (answer->status == 202)
        return Asked::by_http;
    std::string message = answer->body;
    try {
        auto o = boost::json::parse(answer->body).as_object();
        if (auto* e = o.if_contains("error"); e != nullptr && e->is_string())
            message = std::string(e->as_string());
    } catch (const std::exception&) {
    }
    if (answer->status == 404 || answer->status == 409) {
        throw UsageError("the daemon at " + config.http.listen + " refused to rebuild " + name +
                         ": " + message);
    }
    log::warn("the daemon did not take the rebuild request; recording it in the database",
              {{"listen", config.http.listen}, {"status", answer->status}});
    return std::nullopt;
}

std::int64_t live_instances(pg::Connection& conn, const config::Config& config) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.coordination.failover_after)
            .count();
    const bool leases = config.database.pooling == pg::Pooling::transaction;
    return conn
        .exec(leases ? store::live_leased_instances_sql : store::live_instances_sql,
              pg::Params(std::to_string(ms) + " milliseconds"))
        .int64(0, 0);
}

struct Row {
    std::string phase;
    std::string instance;
    std::string error;
    std::int64_t done = 0;
    std::int64_t total = 0;
    double rate = 0;
};

std::optional<Row> read_row(pg::Connection& conn, const std::string& name) {
    auto r = conn.exec(
        "SELECT phase, coalesce(instance, ''), coalesce(error, ''), done, total, "
        "CASE WHEN updated_at > started_at THEN done / extract(epoch FROM updated_at - "
        "started_at)::float8 ELSE 0 END FROM sluice.rebuilds WHERE projection = $1",
        pg::Params(name));
    if (r.rows() == 0)
        return std::nullopt;
    return Row{std::string(r.text(0, 0)),
               std::string(r.text(0, 1)),
               std::string(r.text(0, 2)),
               r.int64(0, 3),
               r.int64(0, 4),
               std::strtod(std::string(r.text(0, 5)).c_str(), nullptr)};
}

// Follows the rebuild's row until it ends (or the wait times out).
int follow(pg::Connection& conn, const config::Projection& projection,
           const RebuildRequest& request) {
    const auto names = projections::generations(projection);
    Progress progress("rebuild", isatty(STDERR_FILENO) != 0);
    const auto started = std::chrono::steady_clock::now();
    std::string shown_phase;
    std::string shown_instance;
    bool told_waiting = false;
    while (true) {
        auto row = read_row(conn, projection.name);
        if (!row) {
            std::cerr << "the rebuild of " << projection.name
                      << " is no longer recorded in sluice.rebuilds\n";
            return exit_failure;
        }
        if (row->instance != shown_instance && !row->instance.empty()) {
            shown_instance = row->instance;
            std::cerr << "rebuild of " << projection.name << " run by instance " << row->instance
                      << "\n";
        }
        if (store::rebuild_ended(row->phase)) {
            if (row->total > 0) {
                progress.set_label("rebuild (" + row->phase + ")");
                progress.update(row->done, row->total, true, row->rate);
            }
            if (row->phase == store::rebuild_phase::done) {
                auto at = conn.exec("SELECT event_id FROM sluice.checkpoints WHERE name = $1",
                                    pg::Params(projection.name));
                std::cout << "rebuilt " << projection.name << " (by instance " << row->instance
                          << "): the new generation (replayed " << row->done
                          << " events) is live in schema " << names.live << " at event id "
                          << (at.rows() == 1 ? at.int64(0, 0) : 0)
                          << "; the previous one is kept in " << names.previous
                          << " (sluice rollback " << projection.name << ")\n";
                return exit_ok;
            }
            std::cerr << row->error << "\n";
            return exit_failure;
        }
        if (row->phase != shown_phase) {
            shown_phase = row->phase;
            progress.set_label("rebuild (" + row->phase + ")");
        }
        if (row->phase == store::rebuild_phase::requested && !told_waiting &&
            std::chrono::steady_clock::now() - started > 10s) {
            told_waiting = true;
            std::cerr << "no instance has taken the rebuild of " << projection.name
                      << " yet: does the running daemon's config have projection "
                      << projection.name << " with schema: (reload it: SIGHUP)?\n";
        }
        if (row->total > 0)
            progress.update(row->done, row->total, false, row->rate);
        if (request.wait_timeout.count() > 0 &&
            std::chrono::steady_clock::now() - started > request.wait_timeout) {
            std::cerr << "\nrebuild of " << projection.name << " is still " << row->phase
                      << " after " << request.wait_timeout.count()
                      << " s (--wait-timeout); the daemon goes on with it: sluice status shows "
                         "how it ends\n";
            return exit_failure;
        }
        std::this_thread::sleep_for(250ms);
    }
}

// Holds the unit NAME@next as an instance does (store/migrations.cpp: sluice.acquire_owner):
// its session lock and owners row; released when it goes.
class HeldUnit {
  public:
    HeldUnit(pg::Connection& conn, std::string unit, const engine::CoordinatorOptions& me)
        : conn_(conn), unit_(std::move(unit)), instance_(me.instance) {
        held_ = conn_
                    .exec("SELECT sluice.acquire_owner($1, $2, $3, $4::int)",
                          pg::Params(unit_, me.instance, me.host, std::to_string(me.pid)))
                    .boolean(0, 0);
    }
    HeldUnit(const HeldUnit&) = delete;
    HeldUnit& operator=(const HeldUnit&) = delete;
    ~HeldUnit() {
        if (!held_)
            return;
        try {
            conn_.exec("SELECT sluice.release_owner($1, $2)", pg::Params(unit_, instance_));
        } catch (const std::exception& e) {
            // The session ends with the command: its lock goes with it.
            log::warn("could not release the rebuild's unit", {{"error", e.what()}});
        }
    }
    [[nodiscard]] bool held() const { return held_; }

  private:
    pg::Connection& conn_;
    std::string unit_;
    std::string instance_;
    bool held_ = false;
};

int run_here(pg::Connection& conn, const config::Config& config,
             const config::Projection& projection, const RebuildRequest& request) {
    const auto me = coordination_options(config);
    HeldUnit unit(conn, store::rebuild_unit(projection.name), me);
    if (!unit.held()) {
        std::cerr << "an instance holds the rebuild of " << projection.name
                  << " already; following it\n";
        return follow(conn, projection, request);
    }
    BlueGreenOptions options = request.blue_green;
    options.instance = me.instance;
    options.hooks.owner = me.instance;
    options.reason = reason;
    options.progress_bar = true;
    Outcome outcome;
    try {
        outcome = rebuild_beside(conn, config, projection, options);
    } catch (const Refused& e) {
        throw UsageError(e.what());
    }
    if (!outcome.swapped) {
        std::cerr << outcome.message << "\n";
        return exit_failure;
    }
    std::cout << outcome.message << "\n";
    return exit_ok;
}

}  // namespace

int request_rebuild(pg::Connection& conn, const config::Config& config,
                    const config::Projection& projection, const RebuildRequest& request) {
    auto asked = ask_daemon(config, projection.name);
    if (!asked && live_instances(conn, config) > 0) {
        conn.exec(store::request_rebuild_sql, pg::Params(projection.name, reason));
        asked = Asked::in_database;
    }
    if (!asked) {
        if (!request.wait) {
            throw UsageError(
                "no daemon runs against this database: a rebuild with --no-wait "
                "needs one to run it (start sluice run, or leave out --no-wait)");
        }
        return run_here(conn, config, projection, request);
    }
    std::cerr << "rebuild of " << projection.name << " asked of the running daemon"
              << (asked == Asked::by_http ? " at " + config.http.listen : "s (sluice.rebuilds)")
              << "\n";
    if (!request.wait) {
        std::cout << "rebuild of " << projection.name
                  << " requested; sluice status shows its progress\n";
        return exit_ok;
    }
    return follow(conn, projection, request);
}

}  // namespace sluice::daemon
