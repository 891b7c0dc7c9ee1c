#include "engine/feed.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "engine/fetch.hpp"
#include "infra/backoff/backoff.hpp"
#include "infra/log/log.hpp"
#include "infra/pg/async_connection.hpp"
#include "infra/pg/literal.hpp"
#include "store/sessions.hpp"

namespace sluice::engine {
namespace {

using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;
constexpr std::size_t cache_batches = 4;

// Only bounds a LISTEN wait (a NOTIFY or stop() ends it first).
constexpr milliseconds listen_wait{60000};

// The oldest transaction that holds back the event horizon (sluice.event_horizon() looks past
// sluice's own event-free sessions, so horizon_holders_sql() does too).
const std::string& oldest_writer_sql() {
    static const std::string sql = "SELECT pid, application_name, age_seconds FROM (" +
                                   horizon_holders_sql() + ") h ORDER BY xact_start LIMIT 1";
    return sql;
}

}  // namespace

const std::string& horizon_holders_sql() {
    // `state IS DISTINCT FROM 'idle'` keeps other roles' sessions (state hidden: NULL) counted.
    static const std::string sql =
        "SELECT pid, coalesce(application_name, '') AS application_name, "
        "extract(epoch FROM clock_timestamp() - xact_start)::float8 AS age_seconds, xact_start "
        "FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
        "AND state IS DISTINCT FROM 'idle' AND NOT sluice.writes_no_events(application_name)";
    return sql;
}

milliseconds held_recheck_delay(std::chrono::steady_clock::duration held_for,
                                milliseconds poll_interval) {
    auto proportional = std::chrono::duration_cast<milliseconds>(held_for / 500);
    return std::max(milliseconds(1),
                    std::min(std::max(milliseconds(2), proportional), poll_interval));
}

Feed::Feed(asio::any_io_executor ex, FeedOptions options)
    : options_(std::move(options)), stopped_(ex), changed_(ex), news_(ex), wake_(ex) {
    changed_.expires_at(asio::steady_timer::time_point::max());
    news_.expires_at(asio::steady_timer::time_point::max());
    wake_.expires_at(asio::steady_timer::time_point::max());
}

void Feed::stop() {
    stopped_.set();
    wake_.cancel();
    changed_.cancel();
    news_.cancel();
}

void Feed::wake_fetcher() {
    wake_.cancel();
}

void Feed::transaction_ended() {
    if (held_since_) {
        dirty_ = true;
        probe_ = true;
        wake_fetcher();
    }
}

void Feed::look_again() {
    probe_ = true;
    wake_fetcher();
}

void Feed::wake_news_waiters() {
    ++notifies_;
    news_.cancel();
}

void Feed::note_held(bool held) {
    if (!held)
        held_since_.reset();
    else if (!held_since_)
        held_since_ = std::chrono::steady_clock::now();
}

asio::awaitable<void> Feed::run() {
    auto ex = co_await asio::this_coro::executor;
    co_await (fetch_loop() && listen_loop());
}

asio::awaitable<void> Feed::listen_loop() {
    auto ex = co_await asio::this_coro::executor;
    const std::string url = pg::listen_url_for(options_.url, options_.listen_url, options_.pooling);
    if (url.empty()) {
        log::info("no session-level connection to LISTEN on; polling for events",
                  {{"poll_interval_ms", options_.poll_interval.count()}});
        co_return;
    }
    Backoff backoff(milliseconds(100), milliseconds(10000));
    bool first = true;
    while (!stopped_.is_set()) {
        try {
            auto conn = co_await pg::AsyncConnection::connect(
                ex, url, options_.connect_timeout,
                {std::string(store::sessions::listen), options_.statement_timeout});
            co_await conn.exec_script("LISTEN " + pg::quote_identifier(options_.channel),
                                      options_.statement_timeout);
            if (!first) {
                log::info("listening again", {{"channel", options_.channel}});
            }
            first = false;
            backoff.reset();
            dirty_ = true;  // anything may have been committed while we were not listening
            wake_news_waiters();
            wake_fetcher();
            while (!stopped_.is_set()) {
                auto notes = co_await stopped_.unless_set(conn.wait_notifications(listen_wait));
                if (notes && !notes->empty()) {
                    ++stats_.notify_wakeups;
                    wake_news_waiters();  // subscribers reading in the server go at once
                    dirty_ = true;
                    if (row_waiters_ > 0)
                        wake_fetcher();
                }
            }
        } catch (const std::exception& e) {
            if (stopped_.is_set())
                break;
            ++stats_.reconnects;
            log::warn("listen connection lost; reconnecting",
                      {{"channel", options_.channel}, {"error", e.what()}});
        }
        if (!stopped_.is_set())
            (void)co_await stopped_.wait_for(backoff.next());
    }
}

void Feed::append(std::vector<EventRow> rows) {
    for (auto& r : rows)
        cache_.push_back(std::move(r));
    head_ = cache_.back().position;
    std::size_t limit = cache_batches * static_cast<std::size_t>(options_.batch_size);
    while (cache_.size() > limit) {
        cache_start_ = cache_.front().position;
        cache_.pop_front();
    }
}

asio::awaitable<void> Feed::check_horizon(pg::AsyncConnection& conn) {
    auto r = co_await conn.query(oldest_writer_sql(), {}, options_.statement_timeout);
    stats_.horizon_held_seconds =
        r.rows() > 0 ? std::strtod(std::string(r.text(0, 2)).c_str(), nullptr) : 0;
    double limit = options_.horizon_warning.count() / 1000.0;
    if (r.rows() > 0 && stats_.horizon_held_seconds > limit && !horizon_warned_) {
        horizon_warned_ = true;
        log::warn(
            "an open transaction holds back the visibility horizon; newer events wait until it "
            "ends",
            {{"pid", std::string(r.text(0, 0))},
             {"application_name", std::string(r.text(0, 1))},
             {"age_seconds", stats_.horizon_held_seconds}});
    } else if (stats_.horizon_held_seconds <= limit) {
        horizon_warned_ = false;
    }
}

asio::awaitable<void> Feed::fetch_loop() {
    auto ex = co_await asio::this_coro::executor;
    Backoff backoff(milliseconds(100), milliseconds(10000));
    std::string sql = fetch_sql(options_.quoted_table);
    auto last_horizon_check = std::chrono::steady_clock::time_point{};
    auto next_poll = std::chrono::steady_clock::now() + options_.poll_interval;
    while (!stopped_.is_set()) {
        try {
            auto conn = co_await pg::AsyncConnection::connect(
                ex, options_.url, options_.connect_timeout,
                {std::string(store::sessions::tailer), options_.statement_timeout,
                 options_.pooling});
            conn.cache_statements();  // the fetch runs at every wake-up: plan it once
            if (stats_.down_since != std::chrono::steady_clock::time_point{}) {
                log::info(
                    "database connection restored",
                    {{"outage_seconds", std::chrono::duration<double>(
                                            std::chrono::steady_clock::now() - stats_.down_since)
                                            .count()}});
            }
            stats_.connected = true;
            stats_.down_since = {};
            backoff.reset();
            dirty_ = true;
            while (!stopped_.is_set()) {
                stats_.last_progress = std::chrono::steady_clock::now();
                bool behind_waiter = row_waiters_ > 0 && head_known_ && wanted_ > head_;
                if (row_waiters_ > 0 && head_known_ && (dirty_ || behind_waiter)) {
                    dirty_ = false;
                    probe_ = false;  // this read says whether anything is held back, too
                    auto fetched = co_await timed_fetch(conn, sql, head_, options_.batch_size);
                    const bool full = static_cast<int>(fetched.rows.size()) == options_.batch_size;
                    if (full)
                        dirty_ = true;
                    note_held(fetched.held_back && !full);
                    if (!fetched.rows.empty()) {
                        append(std::move(fetched.rows));
                        changed_.cancel();  // wake the subscribers waiting at the head
                        wake_news_waiters();
                    }
                    continue;
                }
                if (!news_from_.empty() && probe_) {
                    // Subscribers that read in the server only need to know whether there is
                    // anything after the earliest of them: one row says so.
                    probe_ = false;
                    auto fetched = co_await timed_fetch(conn, sql, *news_from_.begin(), 1);
                    note_held(fetched.held_back);
                    if (!fetched.rows.empty())
                        wake_news_waiters();
                    continue;
                }
                auto now = std::chrono::steady_clock::now();
                if (now - last_horizon_check >= options_.poll_interval) {
                    last_horizon_check = now;
                    co_await check_horizon(conn);
                }
                // Idle: sleep until a NOTIFY, a new waiter, stop(), the next poll, or, while
                // events are held back, the next look at them. The poll deadline is absolute, so
                // early wake-ups never push it back.
                if (now >= next_poll)
                    next_poll = now + options_.poll_interval;
                auto wake_at = next_poll;
                if (held_since_ && waiters_ > 0) {
                    wake_at = std::min(next_poll, now + held_recheck_delay(now - *held_since_,
                                                                           options_.poll_interval));
                }
                wake_.expires_at(wake_at);
                auto [ec] = co_await wake_.async_wait(asio::as_tuple(use_awaitable));
                if (!ec && waiters_ > 0) {
                    dirty_ = true;
                    probe_ = true;
                    if (std::chrono::steady_clock::now() >= next_poll) {
                        ++stats_.poll_wakeups;
                    } else {
                        ++stats_.held_rechecks;
                    }
                }
                if (!ec && std::chrono::steady_clock::now() >= next_poll)
                    next_poll = std::chrono::steady_clock::now() + options_.poll_interval;
            }
        } catch (const std::exception& e) {
            stats_.connected = false;
            if (stats_.down_since == std::chrono::steady_clock::time_point{})
                stats_.down_since = std::chrono::steady_clock::now();
            stats_.last_error = e.what();
            if (stopped_.is_set())
                break;
            ++stats_.reconnects;
            log::warn("tailer connection lost; reconnecting", {{"error", e.what()}});
        }
        stats_.connected = false;
        if (!stopped_.is_set())
            (void)co_await stopped_.wait_for(backoff.next());
    }
    changed_.cancel();
    news_.cancel();
}

asio::awaitable<Fetched> Feed::timed_fetch(pg::AsyncConnection& conn, const std::string& sql,
                                           Position after, int limit) {
    auto started = std::chrono::steady_clock::now();
    auto fetched = co_await fetch(conn, sql, after, limit, options_.statement_timeout);
    ++stats_.fetches;
    stats_.fetch_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    co_return fetched;
}

void Feed::start_at(Position after) {
    if (!head_known_ || (after > head_ && row_waiters_ == 0)) {
        cache_.clear();
        cache_start_ = head_ = after;
        head_known_ = true;
        dirty_ = true;
    }
}

asio::awaitable<bool> Feed::wait_for_news(Position after, std::uint64_t& seen, milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    bool waited = false;
    while (true) {
        if (notifies_ != seen || (head_known_ && after < head_)) {
            seen = notifies_;
            co_return true;
        }
        if (waited || stopped_.is_set() || std::chrono::steady_clock::now() >= deadline)
            co_return false;
        waited = true;
        ++waiters_;
        auto from = news_from_.insert(after);
        if (probe_)
            wake_fetcher();
        asio::steady_timer timeout(news_.get_executor(), deadline);
        co_await (news_.async_wait(asio::as_tuple(use_awaitable)) ||
                  timeout.async_wait(asio::as_tuple(use_awaitable)));
        news_from_.erase(from);
        --waiters_;
        if (news_.expiry() != asio::steady_timer::time_point::max())
            news_.expires_at(asio::steady_timer::time_point::max());
    }
}

asio::awaitable<std::optional<std::vector<EventRow>>> Feed::next(Position after, std::size_t max,
                                                                 milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    bool waited = false;
    while (true) {
        start_at(after);
        if (after < cache_start_)
            co_return std::nullopt;
        if (after < head_) {
            auto it = std::upper_bound(
                cache_.begin(), cache_.end(), after,
                [](const Position& p, const EventRow& r) { return p < r.position; });
            std::vector<EventRow> out;
            for (; it != cache_.end() && out.size() < max; ++it)
                out.push_back(*it);
            co_return out;
        }
        if (waited || stopped_.is_set() || std::chrono::steady_clock::now() >= deadline) {
            co_return std::vector<EventRow>{};
        }
        waited = true;
        ++waiters_;
        ++row_waiters_;
        if (after > wanted_)
            wanted_ = after;
        // Only when there is something to read now; otherwise the NOTIFY or the poll comes.
        if (dirty_ || after > head_)
            wake_fetcher();
        asio::steady_timer timeout(changed_.get_executor(), deadline);
        co_await (changed_.async_wait(asio::as_tuple(use_awaitable)) ||
                  timeout.async_wait(asio::as_tuple(use_awaitable)));
        --waiters_;
        --row_waiters_;
        if (changed_.expiry() != asio::steady_timer::time_point::max()) {
            changed_.expires_at(asio::steady_timer::time_point::max());
        }
    }
}

}  // namespace sluice::engine
