#include "daemon/rebuild/rebuild_work.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon/rebuild/blue_green.hpp"
#include "infra/log/log.hpp"
#include "projections/partition.hpp"
#include "store/coordination.hpp"
#include "store/rebuilds.hpp"
#include "store/sessions.hpp"

namespace sluice::daemon {
namespace {

using namespace std::chrono_literals;
// A run that ended without an outcome (its connection failed) is tried again after this.
constexpr auto retry_after = 5s;

const config::Projection* find_projection(const config::Config& config, const std::string& name) {
    for (const auto& p : config.projections) {
        if (p.name == name)
            return &p;
    }
    return nullptr;
}

// The body of a run's thread: the blue/green rebuild on its own blocking connection.
void run_rebuild(const std::shared_ptr<const config::Config>& config,
                 const std::string& projection_name, const std::string& instance,
                 const std::string& owner, const std::atomic<bool>& stop, bool& swapped,
                 bool& lost_ownership) {
    const config::Projection* projection = find_projection(*config, projection_name);
    if (projection == nullptr)
        return;
    const std::string url = pg::listen_url_for(config->database.url, config->database.listen_url,
                                               config->database.pooling);
    if (url.empty()) {
        log::error(
            "a rebuild needs a session-level connection: set database.listen_url beside a "
            "transaction-mode pool",
            {{"projection", projection_name}});
        return;
    }
    const auto connect_timeout =
        std::chrono::duration_cast<std::chrono::seconds>(config->database.connect_timeout);
    auto conn =
        pg::Connection::open(url, std::max<int>(1, static_cast<int>(connect_timeout.count())),
                             std::string(store::sessions::rebuild));
    BlueGreenOptions options;
    options.instance = instance;
    options.hooks.owner = owner;
    options.hooks.stop = &stop;
    options.reason = "asked of the daemon";
    try {
        auto outcome = rebuild_beside(conn, *config, *projection, options);
        swapped = outcome.swapped;
    } catch (const Stopped&) {
        log::info("rebuild stopped between two batches; it resumes from its checkpoint",
                  {{"projection", projection_name}});
    } catch (const pg::ServerError& e) {
        if (store::coordination_of(e) != store::Coordination::owner_lost)
            throw;
        lost_ownership = true;
        log::warn("rebuild stopped: another instance owns it now",
                  {{"projection", projection_name}});
    }
}

}  // namespace

RebuildWork::RebuildWork(asio::any_io_executor ex, std::string instance,
                         std::chrono::milliseconds handoff)
    : ex_(std::move(ex)), instance_(std::move(instance)), handoff_(handoff) {}

RebuildWork::~RebuildWork() {
    for (auto& [unit, run] : runs_)
        run->stop = true;
    for (auto& run : draining_)
        run->stop = true;
    for (auto& [unit, run] : runs_) {
        if (run->thread.joinable())
            run->thread.join();
    }
    for (auto& run : draining_) {
        if (run->thread.joinable())
            run->thread.join();
    }
}

void RebuildWork::set_config(const config::Config& config) {
    config_ = std::make_shared<const config::Config>(config);
    start_due();
}

bool RebuildWork::eligible(const RebuildView& row) const {
    if (row.command != "rebuild" || !config_)
        return false;
    const config::Projection* p = find_projection(*config_, row.projection);
    if (p == nullptr || p->schema.empty())
        return false;
    if (row.phase == store::rebuild_phase::requested)
        return true;
    if (store::rebuild_ended(row.phase))
        return false;
    // In progress: here, or interrupted (its runner's session is gone).
    const std::string unit = store::rebuild_unit(row.projection);
    return !row.running || runs_.contains(unit) || owned_.contains(unit);
}

void RebuildWork::observe(const std::vector<RebuildView>& rows, Clock::time_point asked) {
    reap();
    rows_.clear();
    for (const auto& row : rows) {
        rows_[row.projection] = row;
        auto& seen = seen_phase_[row.projection];
        if (row.command == "rebuild" && !seen.empty() && !store::rebuild_ended(seen) &&
            row.phase == store::rebuild_phase::done) {
            swapped_.push_back(row.projection);
        }
        seen = row.phase;
    }
    rows_asked_ = asked;
    start_due();
}

std::vector<std::string> RebuildWork::units() const {
    std::vector<std::string> out;
    for (const auto& [projection, row] : rows_) {
        if (eligible(row))
            out.push_back(store::rebuild_unit(projection));
    }
    return out;
}

void RebuildWork::start_due() {
    for (const auto& [unit, owner] : owned_) {
        if (runs_.contains(unit))
            continue;
        const std::string projection =
            unit.substr(0, unit.size() - store::rebuild_unit_suffix.size());
        auto row = rows_.find(projection);
        if (row == rows_.end() || !eligible(row->second))
            continue;
        // Only a row read after the last run here ended says it is due again.
        if (auto ended = ended_at_.find(unit); ended != ended_at_.end()) {
            if (rows_asked_ <= ended->second || Clock::now() - ended->second < retry_after)
                continue;
        }
        start(unit, projection);
    }
}

void RebuildWork::start(const std::string& unit, const std::string& projection) {
    auto run = std::make_shared<Run>(ex_);
    run->unit = unit;
    run->projection = projection;
    run->owner = owned_.at(unit);
    run->ended = on_end_;
    log::info("rebuild taken up", {{"projection", projection},
                                   {"unit", unit},
                                   {"instance", instance_},
                                   {"reason", rows_.at(projection).reason}});
    run->thread = std::thread([run, config = config_, instance = instance_, ex = ex_] {
        try {
            run_rebuild(config, run->projection, instance, run->owner, run->stop, run->swapped,
                        run->lost_ownership);
        } catch (const std::exception& e) {
            log::error("rebuild ended with an error",
                       {{"projection", run->projection}, {"error", e.what()}});
        }
        asio::post(ex, [run] {
            run->done.set();
            if (run->ended)
                run->ended();
        });
    });
    runs_[unit] = std::move(run);
}

asio::awaitable<void> RebuildWork::own(std::map<std::string, std::string> owned) {
    owned_ = std::move(owned);
    std::vector<std::shared_ptr<Run>> stopping;
    for (auto it = runs_.begin(); it != runs_.end();) {
        auto o = owned_.find(it->first);
        if (o == owned_.end() || o->second != it->second->owner) {
            stopping.push_back(it->second);
            it = runs_.erase(it);
        } else {
            ++it;
        }
    }
    if (!stopping.empty())
        co_await stop_runs(std::move(stopping), handoff_);
    reap();
    start_due();
}

asio::awaitable<bool> RebuildWork::stop_runs(std::vector<std::shared_ptr<Run>> runs,
                                             std::chrono::milliseconds bound) {
    const auto deadline = Clock::now() + bound;
    for (auto& run : runs)
        run->stop = true;
    bool all = true;
    for (auto& run : runs) {
        if (!co_await run->done.wait_until(deadline)) {
            all = false;
            log::warn("a rebuild let go is still in its batch; it stops after it",
                      {{"projection", run->projection}});
        }
        draining_.push_back(run);
    }
    reap();
    co_return all;
}

void RebuildWork::reap() {
    auto finish = [&](const std::shared_ptr<Run>& run) {
        if (run->thread.joinable())
            run->thread.join();  // it has posted its completion: ending now
        ended_at_[run->unit] = Clock::now();
        if (run->swapped) {
            swapped_.push_back(run->projection);
            seen_phase_[run->projection] = std::string(store::rebuild_phase::done);
        }
    };
    for (auto it = runs_.begin(); it != runs_.end();) {
        if (it->second->done.is_set() && !it->second->lost_ownership) {
            finish(it->second);
            it = runs_.erase(it);
        } else {
            ++it;
        }
    }
    std::erase_if(draining_, [&](const std::shared_ptr<Run>& run) {
        if (!run->done.is_set())
            return false;
        finish(run);
        return true;
    });
}

std::vector<std::string> RebuildWork::handed_over() {
    std::vector<std::string> out;
    for (auto& [unit, run] : runs_) {
        if (run->done.is_set() && run->lost_ownership)
            out.push_back(unit);
    }
    return out;
}

asio::awaitable<bool> RebuildWork::stop_all(std::chrono::milliseconds drain) {
    std::vector<std::shared_ptr<Run>> runs;
    for (auto& [unit, run] : runs_)
        runs.push_back(run);
    runs_.clear();
    for (auto& run : draining_)
        runs.push_back(run);
    draining_.clear();
    co_return co_await stop_runs(std::move(runs), drain);
}

std::vector<std::string> RebuildWork::take_swapped() {
    std::vector<std::string> units;
    for (auto& name : std::exchange(swapped_, {})) {
        const config::Projection* p = config_ ? find_projection(*config_, name) : nullptr;
        for (int i = 0; p != nullptr && p->partitions > 1 && i < p->partitions; ++i)
            units.push_back(projections::part_name(name, {i, p->partitions}));
        units.push_back(std::move(name));
    }
    return units;
}

}  // namespace sluice::daemon
