#include "engine/runner.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <span>

#include "engine/fetch.hpp"
#include "infra/backoff/backoff.hpp"
#include "infra/failure/failure.hpp"
#include "infra/log/log.hpp"
#include "store/coordination.hpp"
#include "store/sessions.hpp"

namespace sluice::engine {
namespace {

constexpr milliseconds client_margin{5000};  // client deadline beyond the server's timeout
constexpr milliseconds max_retry_backoff{5 * 60 * 1000};
constexpr milliseconds busy_retry{1000};

// A statement the server refused on a connection that is still usable, as a handler error or a
// coordination outcome (another writer moved the checkpoint or holds the subscriber, another
// instance took it over: store/coordination.hpp). Call in a catch block of pg::ServerError:
// anything else, a lost connection or a client timeout, propagates and session() reconnects.
Failure refused(const pg::AsyncConnection& conn) {
    if (!conn.is_usable())
        throw;
    return Failure::current();
}

std::optional<store::Coordination> coordination_of(const Failure& failed) {
    return store::coordination_of(*failed.as<pg::ServerError>());
}

}  // namespace

Runner::Runner(std::unique_ptr<Sink> sink, Feed& feed, RunnerOptions options,
               std::shared_ptr<SubscriberStatus> status, BatchObserver on_batch)
    : sink_(std::move(sink)),
      feed_(feed),
      options_(std::move(options)),
      status_(std::move(status)),
      on_batch_(std::move(on_batch)),
      fetch_sql_(fetch_sql(options_.quoted_table)) {
    status_->name = sink_->name();
    status_->kind = std::string(sink_->kind());
}

pg::Step Runner::lock_step() const {
    const Position& at = status_->position;
    return {"SELECT sluice.begin_batch($1, $2::xid8, $3)",
            pg::Params(sink_->name(), std::to_string(at.transaction_id), std::to_string(at.id))};
}

pg::Step Runner::advance_step(const Position& to, std::size_t applied) const {
    const Position& from = status_->position;
    return {"SELECT sluice.advance_checkpoint($1, $2::xid8, $3, $4::xid8, $5, $6)",
            pg::Params(sink_->name(), std::to_string(from.transaction_id), std::to_string(from.id),
                       std::to_string(to.transaction_id), std::to_string(to.id),
                       static_cast<std::int64_t>(applied))};
}

void Runner::add_guard_steps(std::vector<pg::Step>& steps, bool with_lock) const {
    if (!options_.owner.empty()) {
        steps.push_back(
            {"SELECT sluice.check_owner($1, $2)", pg::Params(sink_->name(), options_.owner)});
    }
    if (with_lock)
        steps.push_back(lock_step());
}

void Runner::stop() {
    stopping_ = true;
    if (pause_timer_)
        pause_timer_->cancel();
}

asio::awaitable<void> Runner::pause(milliseconds d) {
    if (!pause_timer_) {
        pause_timer_ = std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
    }
    pause_timer_->expires_after(d);
    co_await pause_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
}

void Runner::record_error(const std::exception& e, std::optional<std::int64_t> event_id) {
    ++status_->errors;
    status_->last_error = e.what();
    status_->last_sqlstate = pg::sqlstate_of(e);
    status_->failed_event_id = event_id;
}

asio::awaitable<void> Runner::run() {
    auto ex = co_await asio::this_coro::executor;
    Backoff backoff(milliseconds(100), milliseconds(30000));
    while (!stopping_) {
        Failure failed;
        try {
            auto conn = co_await pg::AsyncConnection::connect(
                ex, options_.url, options_.connect_timeout,
                {store::sessions::subscriber(status_->kind, sink_->name()),
                 options_.statement_timeout, options_.pooling});
            conn.cache_statements();  // a batch's few statements repeat: plan them once
            co_await session(conn);
            backoff.reset();
        } catch (const std::exception& e) {
            if (stopping_)
                break;
            record_error(e, std::nullopt);
            status_->state = State::retrying;
            // Anything but a database error comes from the sink's prepare(): its definition.
            const bool database = dynamic_cast<const pg::Error*>(&e) != nullptr;
            log::warn(database ? "database connection failed; reconnecting"
                               : "cannot start; trying again",
                      {{sink_->kind(), sink_->name()}, {"error", e.what()}});
            failed = Failure::current();
        }
        if (failed)
            co_await pause(backoff.next());
    }
}

asio::awaitable<void> Runner::load_checkpoint(pg::AsyncConnection& conn) {
    co_await conn.query("INSERT INTO sluice.checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING",
                        pg::Params(sink_->name()), options_.statement_timeout);
    auto r = co_await conn.query(
        "SELECT transaction_id::text, event_id FROM sluice.checkpoints WHERE name = $1",
        pg::Params(sink_->name()), options_.statement_timeout);
    status_->position.transaction_id = std::stoull(std::string(r.text(0, 0)));
    status_->position.id = r.int64(0, 1);
    behind_ = true;
}

asio::awaitable<void> Runner::session(pg::AsyncConnection& conn) {
    co_await sink_->prepare(conn);
    co_await load_checkpoint(conn);
    status_->state = State::running;
    status_->last_progress = std::chrono::steady_clock::now();
    while (!stopping_) {
        // A sink that reads and applies in the server does so at the head too: a NOTIFY leads
        // straight to one statement, one round trip per event, with no fetch before it.
        if (sink_->catch_up_step(status_->position, options_.batch_size, options_.owner)) {
            if (!behind_) {
                bool news = co_await feed_.wait_for_news(status_->position, notifies_seen_,
                                                         options_.poll_interval);
                status_->last_progress = std::chrono::steady_clock::now();
                if (!news || stopping_)
                    continue;
            }
            Failure failed;
            bool moved = false;
            try {
                moved = co_await catch_up(conn);
            } catch (const pg::ServerError&) {
                failed = refused(conn);
            }
            if (!failed) {
                if (!moved)
                    feed_.look_again();  // woken, yet nothing readable: held back?
                continue;
            }
            const auto outcome = coordination_of(failed);
            if (outcome) {
                co_await coordinate(conn, *outcome);
                continue;
            }
            // A handler failed somewhere in this stretch: read it on our own and take the
            // batch path, which isolates the failing event.
            behind_ = true;
        }
        auto rows = co_await next_rows(conn);
        status_->last_progress = std::chrono::steady_clock::now();
        if (rows.empty() || stopping_)
            continue;
        Failure failed;
        try {
            co_await apply(conn, rows);
        } catch (const pg::ServerError&) {
            failed = refused(conn);
        }
        if (failed)
            co_await recover(conn, rows, *failed.as<pg::ServerError>());
    }
}

asio::awaitable<void> Runner::recover(pg::AsyncConnection& conn, std::span<const EventRow> rows,
                                      pg::ServerError error) {
    const auto outcome = store::coordination_of(error);
    if (outcome) {
        co_await coordinate(conn, *outcome);
        co_return;
    }
    record_error(error, std::nullopt);
    Failure failed;
    try {
        co_await apply_isolating(conn, rows, std::move(error));
    } catch (const pg::ServerError& e) {
        if (!store::coordination_of(e))
            throw;
        failed = Failure::current();
    }
    if (failed)
        co_await coordinate(conn, *coordination_of(failed));
}

asio::awaitable<void> Runner::coordinate(pg::AsyncConnection& conn, store::Coordination outcome) {
    if (outcome == store::Coordination::owner_lost) {
        log::warn("another instance owns this subscriber now; handing it over",
                  {{sink_->kind(), sink_->name()}});
        lost_ownership_ = true;
        stopping_ = true;
        co_return;
    }
    if (outcome == store::Coordination::subscriber_busy) {
        // A rebuild holds this subscriber: wait for it, then go on from where it ended.
        if (status_->state != State::paused) {
            log::info("paused: another session is writing this subscriber",
                      {{sink_->kind(), sink_->name()}});
        }
        status_->state = State::paused;
        // Stay paused until the other session lets go, even when there is nothing to apply.
        while (!stopping_) {
            co_await pause(busy_retry);
            auto r = co_await conn.query(
                "SELECT pg_try_advisory_xact_lock(sluice.subscriber_lock_key($1))",
                pg::Params(sink_->name()), options_.statement_timeout);
            if (r.boolean(0, 0))
                break;
        }
        status_->state = State::running;
        log::info("resumed", {{sink_->kind(), sink_->name()}});
    } else {
        log::warn("checkpoint moved by another writer; reloading it",
                  {{sink_->kind(), sink_->name()}});
    }
    co_await load_checkpoint(conn);
}

asio::awaitable<bool> Runner::catch_up(pg::AsyncConnection& conn) {
    auto started = std::chrono::steady_clock::now();
    // One statement: it checks ownership and takes the lock itself.
    std::vector<pg::Step> steps;
    steps.push_back(*sink_->catch_up_step(status_->position, options_.batch_size, options_.owner));
    auto results =
        co_await conn.pipeline(std::move(steps), options_.statement_timeout + client_margin);
    feed_.transaction_ended();
    const pg::Result& r = results.back();
    behind_ = r.int64(0, 0) >= options_.batch_size;  // short of a full batch: at the head
    status_->last_progress = std::chrono::steady_clock::now();
    // A part may pass other parts' events without reading any of its own: that is progress too.
    const Position last{std::stoull(std::string(r.text(0, 2))), r.int64(0, 3)};
    if (last == status_->position)
        co_return false;
    status_->position = last;
    status_->events += static_cast<std::uint64_t>(r.int64(0, 1));
    ++status_->batches;
    status_->last_event_timestamp = std::max(
        status_->last_event_timestamp, std::strtod(std::string(r.text(0, 4)).c_str(), nullptr));
    if (status_->state == State::retrying)
        status_->state = State::running;
    if (on_batch_) {
        on_batch_(std::chrono::duration<double>(status_->last_progress - started).count());
    }
    co_return true;
}

asio::awaitable<std::vector<EventRow>> Runner::next_rows(pg::AsyncConnection& conn) {
    if (!behind_) {
        auto shared =
            co_await feed_.next(status_->position, static_cast<std::size_t>(options_.batch_size),
                                options_.poll_interval);
        if (shared)
            co_return std::move(*shared);
        behind_ = true;  // the feed has moved on: catch up on our own
    }
    auto rows = (co_await fetch(conn, fetch_sql_, status_->position, options_.batch_size,
                                options_.statement_timeout + client_margin))
                    .rows;
    if (static_cast<int>(rows.size()) < options_.batch_size)
        behind_ = false;
    co_return rows;
}

asio::awaitable<void> Runner::apply(pg::AsyncConnection& conn, std::span<const EventRow> rows) {
    auto started = std::chrono::steady_clock::now();
    Position end = rows.back().position;
    std::vector<EventRow> ordered(rows.begin(), rows.end());
    order_versions_within_aggregates(ordered);
    std::vector<const EventRow*> wanted;
    for (const EventRow& r : ordered) {
        if (sink_->wants(r))
            wanted.push_back(&r);
    }
    std::vector<pg::Step> steps;
    add_guard_steps(steps, true);
    if (!wanted.empty()) {
        for (auto& step : sink_->apply_steps(wanted))
            steps.push_back(std::move(step));
    }
    steps.push_back(advance_step(end, wanted.size()));
    co_await conn.pipeline(std::move(steps), options_.statement_timeout + client_margin);
    feed_.transaction_ended();

    status_->position = end;
    status_->events += wanted.size();
    ++status_->batches;
    status_->last_event_timestamp = std::max(status_->last_event_timestamp, rows.back().timestamp);
    status_->last_progress = std::chrono::steady_clock::now();
    if (status_->state == State::retrying) {
        status_->state = State::running;
    }
    if (on_batch_) {
        on_batch_(std::chrono::duration<double>(status_->last_progress - started).count());
    }
}

asio::awaitable<void> Runner::apply_isolating(pg::AsyncConnection& conn,
                                              std::span<const EventRow> rows,
                                              pg::ServerError first) {
    // known_failing: a prefix of this many rows is known to fail when applied together.
    std::optional<std::size_t> known_failing = rows.size();
    pg::ServerError last = std::move(first);
    while (!rows.empty() && !stopping_) {
        if (known_failing == 1U) {
            bool go_on = co_await handle_poison(conn, rows.front(), last);
            if (!go_on)
                co_return;
            rows = rows.subspan(1);
            known_failing.reset();  // the rest may well be fine: try it whole
            continue;
        }
        std::size_t attempt = known_failing ? *known_failing / 2 : rows.size();
        try {
            co_await apply(conn, rows.first(attempt));
            rows = rows.subspan(attempt);
            if (known_failing)
                *known_failing -= attempt;
        } catch (const pg::ServerError& e) {
            if (!conn.is_usable() || store::coordination_of(e))
                throw;
            last = e;  // a handler's error: no co_await needed to handle it
            known_failing = attempt;
        }
    }
}

asio::awaitable<bool> Runner::handle_poison(pg::AsyncConnection& conn, const EventRow& row,
                                            const pg::ServerError& first) {
    const config::OnError& policy = sink_->on_error();
    pg::ServerError last = first;
    record_error(last, row.position.id);
    // The documented on_error schedule: `backoff`, then twice the wait before, up to 5 min.
    Backoff delays(policy.backoff, max_retry_backoff, Backoff::Jitter::none);
    for (int attempt = 1; attempt <= policy.retries && !stopping_; ++attempt) {
        status_->state = State::retrying;
        log::warn("handler failed; retrying", {{sink_->kind(), sink_->name()},
                                               {"event_id", row.position.id},
                                               {"attempt", attempt},
                                               {"sqlstate", last.sqlstate()},
                                               {"error", last.what()}});
        co_await pause(delays.next());
        if (stopping_)
            co_return false;
        try {
            co_await apply(conn, std::span<const EventRow>(&row, 1));
            status_->state = State::running;
            co_return true;
        } catch (const pg::ServerError& e) {
            if (!conn.is_usable() || store::coordination_of(e))
                throw;
            last = e;  // a handler's error: no co_await needed to handle it
            record_error(last, row.position.id);
        }
    }
    if (stopping_)
        co_return false;
    if (policy.then != config::OnError::Then::stop) {
        co_await park(conn, row, last, policy.then == config::OnError::Then::quarantine);
        co_return true;
    }
    status_->state = State::stopped;
    stopping_ = true;
    log::error("handler failed; stopped at this event (fix it, then restart or reload)",
               {{sink_->kind(), sink_->name()},
                {"event_id", row.position.id},
                {"sqlstate", last.sqlstate()},
                {"error", last.what()}});
    co_return false;
}

asio::awaitable<void> Runner::park(pg::AsyncConnection& conn, const EventRow& row,
                                   const pg::ServerError& last, bool quarantine) {
    std::vector<pg::Step> steps;
    add_guard_steps(steps, true);
    // The aggregate and version go with it: a quarantined row holds back the later events of
    // its aggregate (sluice.park_if_quarantined, in the sink's functions).
    steps.push_back(
        {"INSERT INTO sluice.parked_events (subscriber, event_id, transaction_id, error, "
         "sqlstate, aggregate_type, aggregate_id, version, quarantine) "
         "VALUES ($1, $2, $3::xid8, $4, $5, $6, $7::uuid, $8, $9) "
         "ON CONFLICT (subscriber, event_id) DO UPDATE SET error = EXCLUDED.error",
         pg::Params(sink_->name(), std::to_string(row.position.id),
                    std::to_string(row.position.transaction_id), std::string(last.what()),
                    last.sqlstate(), row.aggregate_type, row.aggregate_id,
                    std::to_string(row.version), quarantine ? "true" : "false")});
    steps.push_back(advance_step(row.position, 0));  // parked: not applied
    co_await conn.pipeline(std::move(steps), options_.statement_timeout + client_margin);
    status_->position = row.position;
    ++status_->parked;
    status_->state = State::running;
    log::warn(quarantine ? "event parked after its retries failed; its aggregate is quarantined "
                           "(its later events are parked behind it)"
                         : "event parked after its retries failed",
              {{sink_->kind(), sink_->name()},
               {"event_id", row.position.id},
               {"aggregate_type", row.aggregate_type},
               {"aggregate_id", row.aggregate_id},
               {"sqlstate", last.sqlstate()},
               {"error", last.what()}});
}

}  // namespace sluice::engine
