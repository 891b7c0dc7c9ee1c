// Webhook delivery for every webhook of a configuration: one WebhookWorker per webhook (own
// database connection, HTTP connection pool), one LISTEN connection on store::outbox_channel
// that wakes the workers when rows are enqueued or re-queued and makes them re-read their
// disabled state when `sluice outbox enable` ran, and one maintenance connection that refreshes
// queue counts and deletes delivered rows past outbox.retention in batches of 1000.
//
// Usage (daemon):
//   outbox::Publisher publisher(ioc.get_executor(), outbox::Publisher::settings_from(config),
//                               delivery_metrics);
//   asio::co_spawn(ioc, publisher.run(), on_done);   // returns after stop() has drained
//   ...on SIGTERM: publisher.stop();                  // any thread; idempotent
// Every webhook's sluice_outbox_* series is recorded into as things happen: attempts, latency,
// in-flight and disabled by its worker, queue sizes by the maintenance loop.
// run() returns once every worker has finished and recorded its in-flight deliveries (each
// bounded by its webhook timeout) and the helper loops have ended (at once: stop() interrupts
// their waits). Do not cancel run() through Asio cancellation; use stop(). The Publisher must
// outlive run().
// Threading: the event-loop thread only (no strands, no locks), except stop(), which another
// thread (a test) may call: it then only posts to the loop.
//
// Error policy: the constructor throws std::invalid_argument / std::runtime_error for
// configuration errors (URL, TLS files, secrets), with the webhook name. Nothing in run() ends
// the daemon: database and endpoint failures are logged (webhook=<name>) and retried.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "infra/async/completion.hpp"
#include "outbox/delivery_metrics.hpp"
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
    // Adds every webhook's series to `metrics`, which must outlive the Publisher.
    Publisher(boost::asio::any_io_executor executor, PublisherSettings settings,
              DeliveryMetrics& metrics);
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;
    ~Publisher();

    [[nodiscard]] static PublisherSettings settings_from(const config::Config& config);

    [[nodiscard]] boost::asio::awaitable<void> run();
    void stop();

  private:
    boost::asio::awaitable<void> listen();  // on listen_url_
    boost::asio::awaitable<void> maintain();
    boost::asio::awaitable<void> maintenance_pass(pg::AsyncConnection& db, bool retention);
    void wake_all();

    boost::asio::any_io_executor executor_;
    PublisherSettings settings_;
    std::string listen_url_;  // where to LISTEN (pg::listen_url_for); empty: the workers poll
    std::vector<std::unique_ptr<WebhookWorker>> workers_;
    // Declared last: set by stop(), it wakes the helper loops' waits, which refer to the above.
    Completion stopped_;
};

}  // namespace sluice::outbox
