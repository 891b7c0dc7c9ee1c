// Runs one subscriber: reads events (from the shared Feed at the head, on its own when behind),
// applies each batch and advances its checkpoint in one transaction (libpq pipeline: one round
// trip). A sink that can read and apply in the server (Sink::catch_up_step) does so at the head
// too, woken by the feed: one statement per wake-up, no fetch before it. It contains failures: a
// connection error reconnects and resumes from the stored checkpoint; a handler error isolates the
// failing event (committing the good ones before it), retries it per on_error, then stops the
// subscriber there or parks the event (with `then: quarantine`, holding back its aggregate's later
// events, which the sink's statements park behind it) and moves on. With an owner set, every batch
// transaction first checks that this instance still owns the subscriber (sluice.check_owner); when
// another instance has taken it over the runner ends. Threading: event-loop thread only. Error
// policy: run() never throws; outcomes are in status. A pg::ServerError on a usable connection is a
// handler's error or a coordination outcome (store/coordination.hpp); pg::ConnectionLost and
// pg::Timeout end the session and reconnect.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <span>

#include "engine/feed.hpp"
#include "engine/sink.hpp"
#include "engine/status.hpp"
#include "store/coordination.hpp"

namespace sluice::engine {

struct RunnerOptions {
    std::string url;
    std::string quoted_table;
    int batch_size = 1000;
    milliseconds poll_interval{1000};
    milliseconds connect_timeout{10000};
    milliseconds statement_timeout{30000};
    // What every batch presents to sluice.check_owner: this instance's id, or with leases
    // "id#token" (store::lease_owner); empty: no ownership check (a single writer).
    std::string owner;
    pg::Pooling pooling = pg::Pooling::session;
};

class Runner {
  public:
    // Called after every committed batch with its duration in seconds (for metrics).
    using BatchObserver = std::function<void(double seconds)>;

    Runner(std::unique_ptr<Sink> sink, Feed& feed, RunnerOptions options,
           std::shared_ptr<SubscriberStatus> status, BatchObserver on_batch = {});

    asio::awaitable<void> run();
    // Stops after the batch in flight commits (or fails); wakes any wait.
    void stop();

    [[nodiscard]] const Sink& sink() const { return *sink_; }
    [[nodiscard]] const std::shared_ptr<SubscriberStatus>& status() const { return status_; }
    // True once a batch found the subscriber owned by another instance (the runner then ends).
    [[nodiscard]] bool lost_ownership() const { return lost_ownership_; }

  private:
    asio::awaitable<void> session(pg::AsyncConnection& conn);
    asio::awaitable<std::vector<EventRow>> next_rows(pg::AsyncConnection& conn);
    // The sink's server-side read-and-apply: one statement per batch. Returns whether the
    // checkpoint moved.
    asio::awaitable<bool> catch_up(pg::AsyncConnection& conn);
    // Applies rows (commit order) and moves the checkpoint to the last one, in one transaction.
    asio::awaitable<void> apply(pg::AsyncConnection& conn, std::span<const EventRow> rows);
    // After a batch failed: commits the good events before the failing one (halving the
    // batch), then handles the failing event, and goes on with the rest.
    asio::awaitable<void> apply_isolating(pg::AsyncConnection& conn, std::span<const EventRow> rows,
                                          pg::ServerError first);
    // Returns false when the subscriber must stop at this event.
    asio::awaitable<bool> handle_poison(pg::AsyncConnection& conn, const EventRow& row,
                                        const pg::ServerError& first);
    // Parks `row` after its retries failed and moves the checkpoint past it, in one
    // transaction; `quarantine`: its aggregate's later events will be parked behind it.
    asio::awaitable<void> park(pg::AsyncConnection& conn, const EventRow& row,
                               const pg::ServerError& last, bool quarantine);
    // After a batch was refused: coordinates, or isolates the failing handler.
    asio::awaitable<void> recover(pg::AsyncConnection& conn, std::span<const EventRow> rows,
                                  pg::ServerError error);
    asio::awaitable<void> load_checkpoint(pg::AsyncConnection& conn);
    // Another writer moved the checkpoint or holds the subscriber: wait if need be, reload.
    // Another instance owns the subscriber: end.
    asio::awaitable<void> coordinate(pg::AsyncConnection& conn, store::Coordination outcome);
    [[nodiscard]] pg::Step lock_step() const;
    // Moves the checkpoint from where the runner saw it to `to`, counting the `applied` events
    // the sink was given on the way (the counter `sluice verify` checks).
    [[nodiscard]] pg::Step advance_step(const Position& to, std::size_t applied) const;
    // The batch's first steps: the ownership check (when owned) and the subscriber lock.
    void add_guard_steps(std::vector<pg::Step>& steps, bool with_lock) const;
    asio::awaitable<void> pause(milliseconds d);
    void record_error(const std::exception& e, std::optional<std::int64_t> event_id);

    std::unique_ptr<Sink> sink_;
    Feed& feed_;
    RunnerOptions options_;
    std::shared_ptr<SubscriberStatus> status_;
    BatchObserver on_batch_;
    std::string fetch_sql_;
    bool behind_ = true;  // read on our own until a short read says we reached the head
    std::uint64_t notifies_seen_ = 0;  // for Feed::wait_for_news
    bool stopping_ = false;
    bool lost_ownership_ = false;

    // Last: its pending wait refers to this object.
    std::unique_ptr<asio::steady_timer> pause_timer_;
};

}  // namespace sluice::engine
