// The shared fetch: one reader of the events table for every subscriber that is at the head.
// It LISTENs for the events trigger's NOTIFY (a wake-up only; behind a transaction-mode pool only
// on a listen_url), polls every poll_interval to cover lost notifications, keeps the most recent
// rows in a bounded cache and serves each subscriber the rows after its position (next()). A
// subscriber behind the cache reads on its own. Subscribers that read and apply in the server need
// no rows, only the wake-up (wait_for_news()): a NOTIFY wakes them at once, and the feed reads
// nothing for them unless asked (a poll, look_again(), events held back), and then only whether one
// row is there. Events that committed above the event horizon (engine/fetch.hpp) are held back by
// an older open transaction, which may end without any NOTIFY: while that is so the feed looks
// again on a short schedule (held_recheck_delay), and at once when one of this process's own
// transactions ends. Also watches the visibility horizon: the age of the oldest open transaction
// that can hold back events, warning when it exceeds horizon_warning. Threading: all members are
// used from the one event-loop thread. Error policy: database failures are logged and retried with
// bounded backoff inside run(); next() never throws for database reasons.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/event_row.hpp"
#include "engine/fetch.hpp"
#include "infra/async/completion.hpp"
#include "infra/pg/async_connection.hpp"
#include "store/channels.hpp"

namespace sluice::engine {

namespace asio = boost::asio;
using std::chrono::milliseconds;

struct FeedOptions {
    std::string url;
    std::string quoted_table;
    std::string channel = std::string(store::default_events_channel);
    int batch_size = 1000;
    milliseconds poll_interval{1000};
    milliseconds horizon_warning{30000};
    milliseconds connect_timeout{10000};
    milliseconds statement_timeout{30000};
    pg::Pooling pooling = pg::Pooling::session;
    // The LISTEN connection's URL when it is not url (pg::listen_url_for): with neither, the
    // feed does not LISTEN and poll_interval is its only wake-up.
    std::string listen_url;
};

// How long to wait before looking again while events are held back, given how long they have
// been: 2 ms at first, then a 500th of the time held, so that an event is read within 2 ms, or
// 0.2% of the holding transaction's duration, of its end; never longer than poll_interval.
[[nodiscard]] milliseconds held_recheck_delay(std::chrono::steady_clock::duration held_for,
                                              milliseconds poll_interval);

// The open transactions that can hold back the event horizon, one row each: pid,
// application_name, age_seconds (since the transaction began), xact_start. Cluster-wide, as
// transaction ids are. Only sessions that are in a transaction by the client's doing count
// (state 'active' or 'idle in transaction'): a backend that PostgreSQL reports 'idle' while it
// holds a transaction id is ending its session (dropping its temporary objects after the client
// disconnected), and its xact_start is then the start of its last statement, not of any
// transaction the client held open. The feed warns about the oldest of them.
[[nodiscard]] const std::string& horizon_holders_sql();

struct FeedStats {
    std::uint64_t fetches = 0;
    std::uint64_t held_rechecks = 0;  // reads because events were held back, not a NOTIFY
    double fetch_seconds = 0;         // time spent in fetches, round trip included
    std::uint64_t notify_wakeups = 0;
    std::uint64_t poll_wakeups = 0;
    std::uint64_t reconnects = 0;
    double horizon_held_seconds = 0;
    bool connected = false;
    std::chrono::steady_clock::time_point last_progress{};  // last fetch or idle check
    std::chrono::steady_clock::time_point down_since{};     // when the connection was lost
    std::string last_error;  // why it was lost (a libpq message; never holds the password)
};

class Feed {
  public:
    Feed(asio::any_io_executor ex, FeedOptions options);

    // Runs the fetch loop and the LISTEN loop until stop().
    asio::awaitable<void> run();
    void stop();
    // Wakes every subscriber waiting in next() or wait_for_news() (they return what they have,
    // possibly nothing), so that a stopping one need not wait out its poll interval.
    void wake_waiters() {
        changed_.cancel();
        news_.cancel();
    }
    // One of this process's transactions ended: if it was holding events back, read them now.
    void transaction_ended();
    // A subscriber woken by wait_for_news found nothing to read (its events may be held back):
    // the feed looks whether anything is, and if so looks again until it can be read.
    void look_again();

    // Rows after `after` in commit order (at most `max`), waiting up to `wait` for new rows
    // when `after` is at the head. Empty on timeout or wake_waiters(). nullopt: `after` is
    // older than anything cached: read on your own connection.
    asio::awaitable<std::optional<std::vector<EventRow>>> next(Position after, std::size_t max,
                                                               milliseconds wait);

    [[nodiscard]] const FeedStats& stats() const { return stats_; }
    [[nodiscard]] Position head() const { return head_; }
    // For subscribers that read and apply in the server (Sink::catch_up_step), so that a single
    // event costs them one round trip: waits up to `wait` until there may be events after
    // `after` (a NOTIFY came since the caller last looked, or the feed read past `after`). `seen`
    // is the caller's count of NOTIFYs handled. True: read now.
    asio::awaitable<bool> wait_for_news(Position after, std::uint64_t& seen, milliseconds wait);

    // How many subscribers are waiting at the head right now (tests, diagnostics).
    [[nodiscard]] int waiters() const { return waiters_; }

  private:
    asio::awaitable<void> fetch_loop();
    asio::awaitable<void> listen_loop();
    // Measures how long the oldest open transaction holds back the horizon; warns once per
    // spell above horizon_warning.
    asio::awaitable<void> check_horizon(pg::AsyncConnection& conn);
    void append(std::vector<EventRow> rows);
    // fetch(), counted and timed in stats_.
    asio::awaitable<Fetched> timed_fetch(pg::AsyncConnection& conn, const std::string& sql,
                                         Position after, int limit);
    // The first subscriber to wait in next() starts the shared read at its position; one that
    // is ahead of it while no other waits there moves it there.
    void start_at(Position after);
    // Wakes the subscribers in wait_for_news: they read at once.
    void wake_news_waiters();
    // Records whether the last read saw committed events held back above the horizon.
    void note_held(bool held);
    void wake_fetcher();

    FeedOptions options_;
    FeedStats stats_;
    std::deque<EventRow> cache_;  // commit order; every row is after cache_start_
    Position cache_start_;
    Position head_;  // position of the newest row read (or where reading starts)
    bool head_known_ = false;
    bool horizon_warned_ = false;
    bool dirty_ = true;  // something may be new: a NOTIFY came, or the last fetch was full
    // Since when the last fetch saw committed events held back above the horizon (unset: none).
    std::optional<std::chrono::steady_clock::time_point> held_since_;
    Position wanted_;      // the furthest position a waiter asked from
    int waiters_ = 0;      // in next() or wait_for_news()
    int row_waiters_ = 0;  // in next(): they need the rows, read into the cache
    bool probe_ = false;   // wait_for_news subscribers need a look: a poll, a recheck, look_again
    std::multiset<Position> news_from_;  // positions of the subscribers in wait_for_news
    std::uint64_t notifies_ = 0;         // NOTIFYs received, for wait_for_news
    // Last: they hold handlers that refer to this object, so they go first.
    Completion stopped_;          // set by stop(): ends the listen wait and reconnect pauses
    asio::steady_timer changed_;  // cancelled to wake subscribers waiting in next()
    asio::steady_timer news_;     // cancelled to wake subscribers waiting in wait_for_news()
    asio::steady_timer wake_;     // cancelled to wake the fetch loop; expires at the next poll
};

}  // namespace sluice::engine
