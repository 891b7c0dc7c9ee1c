// Webhook delivery for every webhook of a configuration: one WebhookWorker per webhook (own
// database connection, HTTP connection pool), one LISTEN connection on store::outbox_channel
// that wakes the workers when rows are enqueued or re-queued and makes them re-read their
// disabled state when `sluice outbox enable` ran, and one maintenance connection that refreshes
// queue counts and deletes delivered rows past outbox.retention in batches of 1000.
//
// Usage (daemon):
//   outbox::Publisher publisher(ioc.get_executor(), outbox::Publisher::settings_from(config));
//   asio::co_spawn(ioc, publisher.run(), on_done);   // returns after stop() has drained
//   ...on SIGTERM: publisher.stop();                  // any thread; idempotent
//   metrics: publisher.stats().snapshot()             // any thread
// run() returns once every worker has finished and recorded its in-flight deliveries (each
// bounded by its webhook timeout) and the helper loops have ended (within ~1 s of stop()).
// Do not cancel run() through Asio cancellation; use stop(). The Publisher must outlive run().
//
// Error policy: the constructor throws std::invalid_argument / std::runtime_error for
// configuration errors (URL, TLS files, secrets), with the webhook name. Nothing in run() ends
// the daemon: database and endpoint failures are logged (webhook=<name>) and retried.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "outbox/stats.hpp"
#include "outbox/webhook_worker.hpp"

namespace sluice::outbox {

struct PublisherSettings {
    config::Database database;
    std::vector<config::Webhook> webhooks;
    config::Outbox outbox;
    std::chrono::milliseconds poll_interval{1000};          // longest sleep of a worker
    std::chrono::milliseconds state_check_interval{5000};   // re-read webhook_state
    std::chrono::milliseconds maintenance_interval{15000};  // queue counts
    std::chrono::milliseconds retention_interval{60000};    // delete old delivered rows
};

class Publisher {
  public:
    Publisher(boost::asio::any_io_executor executor, PublisherSettings settings);
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;
    ~Publisher();

    [[nodiscard]] static PublisherSettings settings_from(const config::Config& config);

    [[nodiscard]] boost::asio::awaitable<void> run();
    void stop();

    [[nodiscard]] const OutboxStats& stats() const { return stats_; }

  private:
    using Strand = boost::asio::strand<boost::asio::any_io_executor>;

    boost::asio::awaitable<void> listen();
    boost::asio::awaitable<void> maintain();
    boost::asio::awaitable<void> maintenance_pass(pg::AsyncConnection& db, bool retention);
    boost::asio::awaitable<void> pause(boost::asio::steady_timer& timer,
                                       std::chrono::milliseconds duration);
    void wake_all();

    Strand strand_;
    PublisherSettings settings_;
    OutboxStats stats_;
    std::vector<std::unique_ptr<WebhookWorker>> workers_;
    std::atomic<bool> stopping_{false};
    // Declared last: stop() cancels them, and they must go before what the loops use.
    boost::asio::steady_timer listen_timer_;
    boost::asio::steady_timer maintain_timer_;
};

}  // namespace sluice::outbox
