// Shared setup for the outbox's PostgreSQL tests: a fresh migrated database, events and
// outbox rows written with plain SQL, and a Publisher running on its own io_context thread,
// recording into delivery metrics the tests can read.
#pragma once

#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <thread>

#include "outbox/publisher.hpp"
#include "store/migrate.hpp"
#include "test_database.hpp"

namespace sluice::testing {

inline const std::vector<std::string> test_secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};

class OutboxDatabaseTest : public ::testing::Test {
  protected:
    OutboxDatabaseTest() : db_(TestDatabase::create()), conn_(db_.connect()) {
        store::migrate(conn_, {});
    }

    ~OutboxDatabaseTest() override { stop_publisher(); }

    // Appends an event; returns its id.
    std::int64_t append(const std::string& aggregate_id, int version,
                        const std::string& type = "OrderCreated",
                        const std::string& payload = R"({"n": 1})") {
        auto r = conn_.exec(R"SQL(INSERT INTO events
  (aggregate_id, aggregate_type, version, event_type, payload, metadata)
VALUES ($1::uuid, 'Order', $2::int, $3, $4::jsonb, '{"by": "test"}') RETURNING id)SQL",
                            pg::Params(aggregate_id, version, type, payload));
        return r.int64(0, 0);
    }

    // Enqueues an event for a webhook as the dispatcher would; returns the outbox id.
    std::int64_t enqueue(const std::string& webhook, std::int64_t event_id) {
        auto r = conn_.exec(R"SQL(INSERT INTO sluice.outbox
  (webhook, event_id, aggregate_id, event_timestamp)
SELECT $1, id, aggregate_id, timestamp FROM events WHERE id = $2 RETURNING id)SQL",
                            pg::Params(webhook, event_id));
        return r.int64(0, 0);
    }

    std::string scalar(const std::string& sql, const pg::Params& params = {}) {
        auto r = conn_.exec(sql, params);
        if (r.rows() == 0 || r.is_null(0, 0))
            return "";
        return std::string(r.text(0, 0));
    }

    std::int64_t count(const std::string& where) {
        return std::stoll(scalar("SELECT count(*) FROM sluice.outbox WHERE " + where));
    }

    config::Webhook webhook(const std::string& name, const std::string& url) {
        config::Webhook w;
        w.name = name;
        w.url = url;
        w.secrets = test_secrets;
        w.timeout = std::chrono::seconds(5);
        w.retry.schedule = {std::chrono::milliseconds(100), std::chrono::milliseconds(100)};
        w.retry.jitter = 0;
        w.circuit.failures = 1000000;  // these tests count every retry
        return w;
    }

    outbox::PublisherSettings settings(std::vector<config::Webhook> webhooks) {
        outbox::PublisherSettings s;
        s.database.url = db_.url();
        s.webhooks = std::move(webhooks);
        s.poll_interval = std::chrono::milliseconds(100);
        s.state_check_interval = std::chrono::milliseconds(100);
        s.maintenance_interval = std::chrono::milliseconds(100);
        s.retention_interval = std::chrono::milliseconds(100);
        return s;
    }

    void start_publisher(outbox::PublisherSettings s) {
        publisher_ =
            std::make_unique<outbox::Publisher>(ioc_.get_executor(), std::move(s), metrics_);
        boost::asio::co_spawn(ioc_, publisher_->run(), [this](std::exception_ptr e) {
            run_error_ = e;
            run_done_ = true;
        });
        done_ = std::async(std::launch::async, [this] { ioc_.run(); });
    }

    // Stops the publisher and checks it drains in bounded time leaving no work behind.
    void stop_publisher() {
        if (!publisher_)
            return;
        publisher_->stop();
        ASSERT_EQ(done_.wait_for(std::chrono::seconds(20)), std::future_status::ready)
            << "publisher did not stop within 20 s";
        EXPECT_TRUE(run_done_);
        EXPECT_FALSE(run_error_) << "run() ended with an exception";
        publisher_.reset();
    }

    TestDatabase db_;
    pg::Connection conn_;
    boost::asio::io_context ioc_;
    prometheus::Registry registry_;
    outbox::DeliveryMetrics metrics_{registry_};  // the publisher records into it
    std::unique_ptr<outbox::Publisher> publisher_;
    std::future<void> done_;
    std::exception_ptr run_error_;
    bool run_done_ = false;
};

}  // namespace sluice::testing
