#include "outbox/publisher.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "infra/backoff/backoff.hpp"
#include "infra/failure/failure.hpp"
#include "infra/log/log.hpp"
#include "infra/pg/literal.hpp"
#include "outbox/batch.hpp"
#include "store/channels.hpp"
#include "store/sessions.hpp"

namespace sluice::outbox {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int retention_batch = 1000;
constexpr int max_retention_batches = 100;  // per pass; the next pass continues
constexpr milliseconds notification_wait = 60s;

}  // namespace

Publisher::Publisher(asio::any_io_executor executor, PublisherSettings settings,
                     DeliveryMetrics& metrics)
    : executor_(executor),
      settings_(std::move(settings)),
      listen_url_(pg::listen_url_for(settings_.database.url, settings_.database.listen_url,
                                     settings_.database.pooling)),
      stopped_(executor) {
    for (const auto& webhook : settings_.webhooks) {
        WorkerSettings ws{.webhook = webhook,
                          .database = settings_.database,
                          .outbox = settings_.outbox,
                          .poll_interval = settings_.poll_interval,
                          .state_check_interval = settings_.state_check_interval};
        try {
            workers_.push_back(std::make_unique<WebhookWorker>(executor, std::move(ws),
                                                               metrics.add(webhook.name)));
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument("webhook " + webhook.name + ": " + e.what());
        } catch (const std::runtime_error& e) {
            throw std::runtime_error("webhook " + webhook.name + ": " + e.what());
        }
    }
}

Publisher::~Publisher() = default;

PublisherSettings Publisher::settings_from(const config::Config& config) {
    PublisherSettings s{
        .database = config.database, .webhooks = config.webhooks, .outbox = config.outbox};
    s.poll_interval = config.database.wake_up_poll(s.poll_interval);  // no LISTEN: poll sooner
    return s;
}

void Publisher::stop() {
    // Inline on the loop's thread; from another thread, posted to it.
    asio::dispatch(executor_, [this] {
        if (stopped_.is_set())
            return;
        stopped_.set();
        for (auto& w : workers_)
            w->stop();
    });
}

void Publisher::wake_all() {
    for (auto& w : workers_)
        w->wake();
}

asio::awaitable<void> Publisher::run() {
    if (workers_.empty())
        co_return;
    using Op =
        decltype(asio::co_spawn(executor_, std::declval<asio::awaitable<void>>(), asio::deferred));
    std::vector<Op> ops;
    for (auto& w : workers_)
        ops.push_back(asio::co_spawn(executor_, w->run(), asio::deferred));
    if (!listen_url_.empty())  // else the workers poll every poll_interval
        ops.push_back(asio::co_spawn(executor_, listen(), asio::deferred));
    ops.push_back(asio::co_spawn(executor_, maintain(), asio::deferred));
    auto [order, exceptions] =
        co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    (void)order;
    for (auto& e : exceptions) {
        if (e)
            std::rethrow_exception(e);  // a bug: the loops catch what they expect
    }
}

asio::awaitable<void> Publisher::listen() {
    const pg::SessionOptions session(std::string(store::sessions::outbox_listener),
                                     settings_.database.statement_timeout);
    std::optional<pg::AsyncConnection> db;
    Backoff backoff(250ms, 30s);
    while (!stopped_.is_set()) {
        Failure failed;
        try {
            if (!db) {
                db.emplace(co_await pg::AsyncConnection::connect(
                    executor_, listen_url_, settings_.database.connect_timeout, session));
                co_await db->query(
                    "LISTEN " + pg::quote_identifier(std::string(store::outbox_channel)), {},
                    settings_.database.statement_timeout);
                wake_all();  // rows enqueued while we were not listening
            }
            // Until a notification comes or stop() (the bound only keeps the wait finite).
            auto woken = co_await stopped_.unless_set(db->wait_notifications(notification_wait));
            if (!woken)
                break;
            auto notes = std::move(*woken);
            bool state_changed = std::any_of(notes.begin(), notes.end(), [](const auto& n) {
                return n.payload == store::outbox_state_payload;
            });
            if (state_changed) {
                for (auto& w : workers_)
                    w->recheck_state();
            } else if (!notes.empty()) {
                wake_all();
            }
            backoff.reset();
        } catch (const std::exception&) {
            failed = Failure::current();
        }
        if (failed) {
            db.reset();
            auto retry_in = backoff.next();
            log::warn("outbox listener lost its database connection; workers keep polling",
                      {{"error", failed.what()}, {"retry_in_ms", retry_in.count()}});
            (void)co_await stopped_.wait_for(retry_in);
        }
    }
}

asio::awaitable<void> Publisher::maintain() {
    std::optional<pg::AsyncConnection> db;
    auto next_retention = Clock::now();
    while (!stopped_.is_set()) {
        Failure failed;
        try {
            if (!db) {
                db.emplace(co_await pg::AsyncConnection::connect(
                    executor_, settings_.database.url, settings_.database.connect_timeout,
                    {std::string(store::sessions::outbox_maintenance),
                     settings_.database.statement_timeout, settings_.database.pooling}));
            }
            bool retention = Clock::now() >= next_retention;
            co_await maintenance_pass(*db, retention);
            if (retention)
                next_retention = Clock::now() + settings_.retention_interval;
        } catch (const std::exception&) {
            failed = Failure::current();
        }
        if (failed) {
            db.reset();
            log::warn("outbox maintenance failed", {{"error", failed.what()}});
        }
        (void)co_await stopped_.wait_for(settings_.maintenance_interval);
    }
}

asio::awaitable<void> Publisher::maintenance_pass(pg::AsyncConnection& db, bool retention) {
    auto timeout = settings_.database.statement_timeout;
    auto counts = co_await db.query(queue_counts_sql(), {}, timeout);
    for (const auto& worker : workers_) {
        std::int64_t pending = 0;
        std::int64_t dead = 0;
        for (int i = 0; i < counts.rows(); ++i) {
            if (counts.text(i, 0) == worker->name()) {
                pending = counts.int64(i, 1);
                dead = counts.int64(i, 2);
            }
        }
        worker->metrics().set_queue(pending, dead);
    }
    if (!retention)
        co_return;
    std::int64_t deleted = 0;
    for (int batch = 0; batch < max_retention_batches && !stopped_.is_set(); ++batch) {
        auto step = retention_step(settings_.outbox.retention, retention_batch);
        auto result = co_await db.query(step.sql_or_name, step.params, timeout);
        auto n = std::stoll(result.affected());
        deleted += n;
        if (n < retention_batch)
            break;
    }
    if (deleted > 0)
        log::info("outbox retention deleted delivered rows", {{"rows", deleted}});
    auto settled = settled_batches_step();
    co_await db.query(settled.sql_or_name, settled.params, timeout);
}

}  // namespace sluice::outbox
