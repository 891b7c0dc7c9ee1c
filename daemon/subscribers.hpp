// The units of work of a config (each projection, each part of a partitioned projection, each
// webhook dispatcher) and the Runner tasks of those this instance owns. apply() takes a config:
// it validates every sink, stops what is gone, restarts what changed (at its stored
// checkpoint) and leaves the unchanged ones running untouched; own() (driven by the
// engine::Coordinator) starts and stops runners as ownership comes and goes.
// Threading: event-loop thread only. Error policy: sink construction errors (a handler that
// cannot be embedded) are thrown as std::invalid_argument before anything is changed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/units.hpp"
#include "engine/coordinator.hpp"
#include "engine/feed.hpp"
#include "engine/runner.hpp"
#include "infra/async/completion.hpp"

namespace sluice::daemon {

namespace asio = boost::asio;

class Subscribers final : public engine::Work {
  public:
    // `handoff`: how long own() waits for a runner it stops; the coordinator does not heartbeat
    // meanwhile, so it stays well below failover_after. A runner still in a batch then finishes
    // it on its own: the batch holds the owners row, so no new owner starts before it commits.
    Subscribers(asio::any_io_executor ex, engine::Feed& feed, metrics::SluiceMetrics& metrics,
                std::chrono::milliseconds handoff);

    // Takes `config` as the set of units. Stopping waits for in-flight batches to commit,
    // bounded by `drain` (also used by own()).
    asio::awaitable<void> apply(const config::Config& config, std::chrono::milliseconds drain);
    // Stops everything (shutdown), bounded by `drain`. Returns false if some did not finish.
    asio::awaitable<bool> stop_all(std::chrono::milliseconds drain);

    // Restarts the runners of `names` this instance runs, at their stored checkpoints: after a
    // blue/green swap, so that none goes on with what it prepared against the generation that
    // went out.
    asio::awaitable<void> restart(std::vector<std::string> names);

    [[nodiscard]] std::vector<std::string> units() const override;
    asio::awaitable<void> own(std::map<std::string, std::string> owned) override;
    [[nodiscard]] std::vector<std::string> handed_over() override;

    [[nodiscard]] std::vector<std::shared_ptr<engine::SubscriberStatus>> statuses() const;
    // Exports every subscriber's status into its metric series.
    void export_metrics();

  private:
    struct Entry {
        explicit Entry(asio::any_io_executor ex) : done(std::move(ex)) {}
        std::unique_ptr<engine::Runner> runner;
        UnitDefinition definition;
        std::string upcasters;
        metrics::SubscriberKind kind;
        std::shared_ptr<metrics::SubscriberSeries> series;
        std::string owner;  // what its batches present to sluice.check_owner
        Completion done;    // set when the runner's task has ended
    };
    // `previous`: the status of the runner this one replaces (a reload); its position and lag
    // stand until the new runner has loaded its checkpoint and the lag monitor measured it, so
    // a restarted unit (one stuck on an event, say) is never reported as caught up meanwhile.
    void start(const std::string& name, const Unit& unit,
               const engine::SubscriberStatus* previous = nullptr);
    asio::awaitable<bool> stop(std::vector<std::string> names, std::chrono::milliseconds drain);
    // Waits (bounded) for stopped runners to end; those that do not are kept in draining_.
    asio::awaitable<bool> wait_done(std::vector<std::shared_ptr<Entry>> entries,
                                    std::chrono::milliseconds bound);

    asio::any_io_executor ex_;
    engine::Feed& feed_;
    metrics::SluiceMetrics& metrics_;
    engine::RunnerOptions options_;
    std::chrono::milliseconds drain_{30000};
    std::chrono::milliseconds handoff_;
    std::map<std::string, Unit> units_;
    std::map<std::string, std::string> owned_;  // unit -> its owner (engine::Work::own)
    std::map<std::string, std::shared_ptr<Entry>> entries_;
    std::vector<std::shared_ptr<Entry>> draining_;  // stopped, still finishing a batch
};

}  // namespace sluice::daemon
