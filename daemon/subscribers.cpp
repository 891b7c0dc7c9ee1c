#include "daemon/subscribers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "infra/failure/failure.hpp"
#include "infra/log/log.hpp"
#include "infra/pg/literal.hpp"

namespace sluice::daemon {
namespace {

metrics::SubscriberState to_metric(engine::State s) {
    switch (s) {
        case engine::State::starting:
            return metrics::SubscriberState::starting;
        case engine::State::running:
            return metrics::SubscriberState::running;
        case engine::State::paused:
        case engine::State::retrying:
            return metrics::SubscriberState::retrying;
        case engine::State::stopped:
            return metrics::SubscriberState::stopped;
    }
    return metrics::SubscriberState::starting;
}

}  // namespace

Subscribers::Subscribers(asio::any_io_executor ex, engine::Feed& feed,
                         metrics::SluiceMetrics& metrics, std::chrono::milliseconds handoff)
    : ex_(std::move(ex)), feed_(feed), metrics_(metrics), handoff_(handoff) {}

void Subscribers::start(const std::string& name, const Unit& unit,
                        const engine::SubscriberStatus* previous) {
    auto status = std::make_shared<engine::SubscriberStatus>();
    if (previous != nullptr) {
        status->position = previous->position;
        status->lag_events = previous->lag_events;
        status->lag_seconds = previous->lag_seconds;
        status->quarantined = previous->quarantined;
    }
    auto entry = std::make_shared<Entry>(ex_);
    entry->definition = unit.definition;
    entry->upcasters = unit.upcasters;
    entry->kind = unit.kind;
    entry->series = metrics_.add_subscriber(unit.kind, name);
    entry->owner = owned_.at(name);
    engine::RunnerOptions options = options_;
    options.owner = entry->owner;
    entry->runner =
        std::make_unique<engine::Runner>(unit.make_sink(), feed_, options, std::move(status),
                                         [series = entry->series](double seconds) {
                                             series->batch_duration_seconds.Observe(seconds);
                                         });
    asio::co_spawn(ex_, entry->runner->run(), [entry, name](std::exception_ptr e) {
        entry->done.set();
        if (e) {
            log::error("subscriber task ended with an error",
                       {{"name", name}, {"error", Failure(e).what()}});
        }
    });
    entries_[name] = std::move(entry);
}

asio::awaitable<bool> Subscribers::stop(std::vector<std::string> names,
                                        std::chrono::milliseconds drain) {
    std::vector<std::shared_ptr<Entry>> stopping;
    for (const auto& n : names) {
        auto it = entries_.find(n);
        if (it == entries_.end())
            continue;
        it->second->runner->stop();
        stopping.push_back(it->second);
        entries_.erase(it);
    }
    feed_.wake_waiters();
    co_return co_await wait_done(std::move(stopping), drain);
}

asio::awaitable<bool> Subscribers::wait_done(std::vector<std::shared_ptr<Entry>> entries,
                                             std::chrono::milliseconds bound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    bool all = true;
    for (const auto& e : entries) {
        bool ended = co_await e->done.wait_until(deadline);
        if (!ended) {
            draining_.push_back(e);  // still in its batch: stop_all() waits for it
            all = false;
        }
    }
    std::erase_if(draining_, [](const auto& e) { return e->done.is_set(); });
    co_return all;
}

asio::awaitable<void> Subscribers::apply(const config::Config& config,
                                         std::chrono::milliseconds drain) {
    engine::RunnerOptions options{config.database.url,
                                  pg::quote_qualified(config.database.events_table),
                                  config.tailer.batch_size,
                                  config.tailer.poll_interval,
                                  config.database.connect_timeout,
                                  config.database.statement_timeout,
                                  {},
                                  config.database.pooling};
    // Every sink is built once first: a handler that cannot be embedded changes nothing.
    std::map<std::string, Unit> units = units_of(config);
    std::vector<std::string> to_stop;
    std::vector<std::pair<std::string, metrics::SubscriberKind>> removed;
    std::map<std::string, engine::SubscriberStatus> previous;  // of the runners restarted
    for (const auto& [name, entry] : entries_) {
        auto it = units.find(name);
        bool stopped = entry->runner->status()->state == engine::State::stopped;
        if (it == units.end() || it->second.definition != entry->definition ||
            it->second.upcasters != entry->upcasters || it->second.kind != entry->kind || stopped) {
            to_stop.push_back(name);
            previous[name] = *entry->runner->status();
            if (it == units.end() || it->second.kind != entry->kind) {
                removed.emplace_back(name, entry->kind);
            }
        }
    }
    options_ = std::move(options);
    drain_ = drain;
    units_ = std::move(units);
    bool drained = co_await stop(to_stop, drain);
    if (!drained) {
        log::warn("some subscribers did not stop within the drain bound");
    }
    for (const auto& [name, kind] : removed) {
        metrics_.remove_subscriber(kind, name);
        log::info("subscriber removed", {{"name", name}});
    }
    // Changed ones this instance owns start again; new ones wait for the coordinator.
    for (const auto& name : to_stop) {
        auto it = units_.find(name);
        if (it == units_.end() || !owned_.contains(name) || entries_.contains(name))
            continue;
        log::info("subscriber restarted", {{metrics::to_string(it->second.kind), name}});
        start(name, it->second, &previous[name]);
    }
}

asio::awaitable<void> Subscribers::restart(std::vector<std::string> names) {
    std::map<std::string, engine::SubscriberStatus> previous;
    std::vector<std::string> running;
    for (const auto& name : names) {
        auto it = entries_.find(name);
        if (it == entries_.end())
            continue;
        previous[name] = *it->second->runner->status();
        running.push_back(name);
    }
    if (running.empty())
        co_return;
    if (!co_await stop(running, std::min(drain_, handoff_)))
        log::warn("a subscriber restarted is still finishing its batch; it ends after it");
    for (const auto& name : running) {
        auto it = units_.find(name);
        if (it == units_.end() || !owned_.contains(name) || entries_.contains(name))
            continue;
        log::info("subscriber restarted after a swap",
                  {{metrics::to_string(it->second.kind), name}});
        start(name, it->second, &previous[name]);
    }
}

std::vector<std::string> Subscribers::units() const {
    std::vector<std::string> out;
    for (const auto& [name, unit] : units_)
        out.push_back(name);
    return out;
}

asio::awaitable<void> Subscribers::own(std::map<std::string, std::string> owned) {
    owned_ = std::move(owned);
    std::vector<std::string> to_stop;
    for (const auto& [name, entry] : entries_) {
        auto it = owned_.find(name);
        if (it == owned_.end() || it->second != entry->owner)
            to_stop.push_back(name);
    }
    if (!to_stop.empty()) {
        bool drained = co_await stop(to_stop, std::min(drain_, handoff_));
        if (!drained) {
            log::warn("a subscriber handed over is still finishing its batch; it ends after it",
                      {{"bound_ms", std::min(drain_, handoff_).count()}});
        }
        for (const auto& name : to_stop) {
            auto it = units_.find(name);
            if (it != units_.end())
                metrics_.remove_subscriber(it->second.kind, name);
        }
    }
    for (const auto& [name, owner] : owned_) {
        auto it = units_.find(name);
        if (it == units_.end() || entries_.contains(name))
            continue;
        log::info("subscriber started", {{metrics::to_string(it->second.kind), name}});
        start(name, it->second);
    }
}

std::vector<std::string> Subscribers::handed_over() {
    std::vector<std::string> out;
    for (const auto& [name, entry] : entries_) {
        if (entry->done.is_set() && entry->runner->lost_ownership())
            out.push_back(name);
    }
    return out;
}

asio::awaitable<bool> Subscribers::stop_all(std::chrono::milliseconds drain) {
    std::vector<std::string> names;
    for (const auto& [name, e] : entries_)
        names.push_back(name);
    auto deadline = std::chrono::steady_clock::now() + drain;
    bool stopped = co_await stop(names, drain);
    // Runners handed over earlier that were still finishing a batch.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto draining = std::exchange(draining_, {});
    bool drained =
        co_await wait_done(std::move(draining), std::max(left, std::chrono::milliseconds(0)));
    co_return stopped&& drained;
}

std::vector<std::shared_ptr<engine::SubscriberStatus>> Subscribers::statuses() const {
    std::vector<std::shared_ptr<engine::SubscriberStatus>> out;
    for (const auto& [name, e] : entries_) {
        if (!e->runner->lost_ownership())
            out.push_back(e->runner->status());
    }
    return out;
}

void Subscribers::export_metrics() {
    for (const auto& [name, e] : entries_) {
        const auto& s = *e->runner->status();
        auto& series = *e->series;
        series.events_total.advance_to(static_cast<double>(s.events));
        series.batches_total.advance_to(static_cast<double>(s.batches));
        series.errors_total.advance_to(static_cast<double>(s.errors));
        series.parked_events_total.advance_to(static_cast<double>(s.parked));
        series.checkpoint_event_id.Set(static_cast<double>(s.position.id));
        series.lag_events.Set(static_cast<double>(s.lag_events));
        series.lag_seconds.Set(s.lag_seconds);
        series.quarantined_aggregates.Set(static_cast<double>(s.quarantined));
        series.set_state(to_metric(s.state));
    }
}

}  // namespace sluice::daemon
