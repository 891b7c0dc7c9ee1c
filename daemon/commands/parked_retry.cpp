#include "daemon/commands/parked_retry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <iostream>
#include <map>
#include <set>

#include "daemon/commands/command.hpp"
#include "daemon/units.hpp"
#include "engine/parked_retry.hpp"
#include "infra/failure/failure.hpp"
#include "infra/pg/literal.hpp"

namespace sluice::daemon {
namespace {

namespace asio = boost::asio;

// How far the retry got: filled by the coroutine, read after the loop ends.
struct Progress {
    std::int64_t retried = 0;                   // applied, or taken by no handler now
    std::optional<store::ParkedEvent> at;       // the event in hand (failed, when the loop threw)
    bool preparing = false;                     // the failure was the sink's prepare()
    std::optional<engine::Retried> stopped_by;  // not_parked or not_in_events of `at`
};

// What one retry came to, printed on stdout; false when the loop must stop there (`at` is the
// event, `stopped_by` why).
bool report(engine::Retried outcome, bool single, Progress& progress) {
    const store::ParkedEvent& event = *progress.at;
    const std::string id = std::to_string(event.event_id);
    switch (outcome) {
        case engine::Retried::applied:
            std::cout << "applied event " << id << " of " << event.subscriber << "\n";
            ++progress.retried;
            return true;
        case engine::Retried::not_wanted:
            std::cout << "event " << id << " of " << event.subscriber
                      << ": no handler takes it now; removed from the parked list\n";
            ++progress.retried;
            return true;
        case engine::Retried::not_parked:
            if (single) {
                progress.stopped_by = outcome;
                return false;
            }
            std::cout << "event " << id << " of " << event.subscriber
                      << ": no longer parked (retried or dropped meanwhile); skipped\n";
            return true;
        case engine::Retried::not_in_events:
            progress.stopped_by = outcome;
            return false;
    }
    return false;
}

// Retries `events` in order on one connection, stopping at the first failure. After the first
// event of a quarantined aggregate, the events parked behind it follow in version order (also
// those parked meanwhile), each in its own transaction; the aggregate is released once none is
// left. `progress` is the caller's, which runs the loop to its end before reading it.
asio::awaitable<void> retry_in_order(std::vector<store::ParkedEvent> events,
                                     std::map<std::string, Unit> units, config::Database database,
                                     bool single, Progress& progress) {
    auto conn = co_await pg::AsyncConnection::connect(
        co_await asio::this_coro::executor, database.url, database.connect_timeout,
        {"sluice parked retry", database.statement_timeout, database.pooling});
    const engine::RetryOptions options{pg::quote_qualified(database.events_table),
                                       database.statement_timeout};
    std::unique_ptr<engine::Sink> sink;
    std::set<std::pair<std::string, std::int64_t>> released;  // followers already retried
    for (auto& event : events) {
        if (released.contains({event.subscriber, event.event_id}))
            continue;
        progress.at = event;
        if (!sink || sink->name() != event.subscriber) {
            progress.preparing = true;
            sink = units.at(event.subscriber).make_sink();
            co_await sink->prepare(conn);
            progress.preparing = false;
        }
        auto outcome = co_await engine::retry_parked(conn, *sink, event.event_id, options);
        if (!report(outcome, single, progress))
            co_return;
        const bool releases = event.quarantine && event.aggregate_type && event.aggregate_id &&
                              outcome != engine::Retried::not_parked;
        while (releases) {
            auto next = co_await engine::first_in_quarantine(
                conn, event.subscriber, *event.aggregate_type, *event.aggregate_id,
                database.statement_timeout);
            if (!next)
                break;
            progress.at->event_id = *next;
            progress.at->behind = event.event_id;
            // An event parked again would come back here: a release never takes one twice.
            if (!released.insert({event.subscriber, *next}).second) {
                throw std::logic_error("event " + std::to_string(*next) +
                                       " was parked again behind an earlier event of its "
                                       "aggregate while it was released");
            }
            outcome = co_await engine::retry_parked(conn, *sink, *next, options);
            if (!report(outcome, false, progress))
                co_return;
        }
    }
    progress.at.reset();
}

// What went wrong with the event in hand, for stderr. It surely stays parked when its sink could
// not be prepared or the server refused a statement (the transaction rolled back); a connection
// lost during COMMIT leaves that open.
std::string describe_failure(const Failure& failed, const Progress& progress) {
    const store::ParkedEvent& event = *progress.at;
    std::string where = "event " + std::to_string(event.event_id) + " of " + event.subscriber;
    if (progress.preparing)
        where = "preparing the handlers of " + event.subscriber + " for " + where;
    std::string out = "retry: " + where + " failed: " + failed.what();
    const auto refused = failed.as<pg::ServerError>();
    if (refused)
        out += " (SQLSTATE " + refused->sqlstate() + ")";
    if (refused || progress.preparing)
        return out + "; it stays parked, nothing of it was applied";
    return out + "; check with `sluice parked list " + event.subscriber +
           "` whether it is still parked";
}

}  // namespace

int retry_parked_events(const config::Config& config, const std::string& name,
                        std::vector<store::ParkedEvent> events, bool single) {
    auto units = units_of(config);
    for (const auto& e : events) {
        if (!units.contains(e.subscriber)) {
            throw UsageError("event " + std::to_string(e.event_id) + " is parked for '" +
                             e.subscriber + "', which " + config.source_file +
                             " does not define (another partitioning?); drop it, or rebuild " +
                             name);
        }
    }
    if (events.empty()) {
        std::cout << "no parked events of " << name << "\n";
        return exit_ok;
    }
    asio::io_context io;
    Progress progress;
    Failure failed;
    asio::co_spawn(
        io, retry_in_order(std::move(events), std::move(units), config.database, single, progress),
        [&failed](std::exception_ptr e) { failed = Failure(std::move(e)); });
    io.run();
    if (failed && !progress.at)
        failed.rethrow();  // connecting failed: nothing was tried
    const std::string before = progress.retried == 0 ? ""
                                                     : "; the " + std::to_string(progress.retried) +
                                                           " before it stay applied";
    if (failed) {
        std::cerr << "sluice parked: " << describe_failure(failed, progress) << before << "\n";
        return exit_failure;
    }
    if (progress.stopped_by == engine::Retried::not_parked) {
        throw UsageError("event " + std::to_string(progress.at->event_id) + " is not parked for " +
                         name + " (retried or dropped meanwhile)");
    }
    if (progress.stopped_by == engine::Retried::not_in_events) {
        const std::string id = std::to_string(progress.at->event_id);
        std::cerr << "sluice parked: retry: event " << id << " of " << progress.at->subscriber
                  << " is no longer in the events table: nothing to apply (`sluice parked drop "
                  << progress.at->subscriber << " --event " << id << "` discards it)" << before
                  << "\n";
        return exit_failure;
    }
    std::cout << "retried " << progress.retried << " parked event"
              << (progress.retried == 1 ? "" : "s") << " of " << name << "\n";
    return exit_ok;
}

}  // namespace sluice::daemon
