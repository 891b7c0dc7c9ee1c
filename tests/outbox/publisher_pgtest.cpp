// The publisher against PostgreSQL and loopback receivers: delivery, retries, dead letters,
// 410 disabling, per-aggregate ordering, parallelism, isolation between webhooks, retention.
#include <boost/json/parse.hpp>

#include "http_receiver.hpp"
#include "outbox/cli.hpp"
#include "outbox/signature.hpp"
#include "outbox_fixture.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
class Publisher : public OutboxDatabaseTest {};

const std::string agg_a = "6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77";
const std::string agg_b = "0b4bd7a4-4a39-4b2e-8d6c-3f0a3c1f2b10";

TEST_F(Publisher, DeliversEnqueuedEventsSignedAndMarksThemDelivered) {
    HttpReceiver receiver({.secrets = test_secrets});
    auto e1 = append(agg_a, 1, "OrderCreated", R"({"total": 12.50})");
    auto e2 = append(agg_a, 2, "ItemAddedToOrder");
    enqueue("orders", e1);
    enqueue("orders", e2);
    start_publisher(settings({webhook("orders", receiver.url())}));

    ASSERT_TRUE(wait_until([&] { return count("state = 'delivered'") == 2; }, 10s))
        << "both rows should be delivered";
    auto got = receiver.requests();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE(got[0].signature_valid);
    EXPECT_EQ(got[0].webhook_id, "msg_orders_" + std::to_string(e1));
    auto body = boost::json::parse(got[0].body).as_object();
    EXPECT_EQ(body.at("type").as_string(), "OrderCreated");
    EXPECT_EQ(body.at("data").at("aggregate_id").as_string(), agg_a);
    EXPECT_EQ(body.at("data").at("version").as_int64(), 1);
    EXPECT_EQ(body.at("data").at("metadata").at("by").as_string(), "test");
    EXPECT_NE(got[0].body.find(R"("total": 12.50)"), std::string::npos) << got[0].body;
    EXPECT_EQ(scalar("SELECT string_agg(status::text, ',') FROM sluice.outbox_attempts"),
              "200,200");
    EXPECT_EQ(count("delivered_at IS NOT NULL AND attempts = 1"), 2);

    const auto m = metrics_.add("orders");
    ASSERT_TRUE(wait_until(
        [&] {
            return m.delivery_latency->Collect().histogram.sample_count == 2 &&
                   m.pending->Value() == 0;
        },
        5s));
    EXPECT_EQ(m.attempts_total("2xx").Value(), 2);
    EXPECT_EQ(m.attempt_duration->Collect().histogram.sample_count, 2u);
    EXPECT_EQ(m.in_flight->Value(), 0);
}

TEST_F(Publisher, WakesOnNotifyRatherThanWaitingForThePoll) {
    HttpReceiver receiver;
    auto s = settings({webhook("orders", receiver.url())});
    s.poll_interval = 60s;
    enqueue("orders", append(agg_a, 1));
    start_publisher(std::move(s));
    ASSERT_TRUE(receiver.wait_for_requests(1, 10s));

    auto started = std::chrono::steady_clock::now();
    enqueue("orders", append(agg_a, 2));
    ASSERT_TRUE(receiver.wait_for_requests(2, 10s)) << "the NOTIFY should wake the worker";
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST_F(Publisher, RetriesAFailedAttemptWithTheSameWebhookId) {
    HttpReceiver receiver({.secrets = test_secrets});
    receiver.script(Reaction::status_code(500));
    auto id = enqueue("orders", append(agg_a, 1));
    start_publisher(settings({webhook("orders", receiver.url())}));

    ASSERT_TRUE(wait_until([&] { return count("state = 'delivered'") == 1; }, 10s));
    auto got = receiver.requests();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].webhook_id, got[1].webhook_id);
    EXPECT_EQ(scalar("SELECT attempts FROM sluice.outbox WHERE id = $1", pg::Params(id)), "2");
    EXPECT_EQ(scalar("SELECT string_agg(status::text, ',' ORDER BY attempted_at) "
                     "FROM sluice.outbox_attempts"),
              "500,200");
}

TEST_F(Publisher, MarksAMessageDeadWhenTheScheduleIsExhausted) {
    HttpReceiver receiver;
    receiver.set_default(Reaction{.status = 500, .body = "database on fire"});
    enqueue("orders", append(agg_a, 1));
    start_publisher(settings({webhook("orders", receiver.url())}));

    ASSERT_TRUE(wait_until([&] { return count("state = 'dead'") == 1; }, 10s));
    EXPECT_EQ(receiver.count(), 3u) << "one attempt plus one per schedule entry";
    EXPECT_EQ(scalar("SELECT last_error FROM sluice.outbox"), "HTTP 500");
    EXPECT_EQ(scalar("SELECT response FROM sluice.outbox_attempts LIMIT 1"), "database on fire");
}

TEST_F(Publisher, DisablesAnEndpointThatAnswersGoneUntilItIsEnabled) {
    HttpReceiver receiver;
    receiver.script(Reaction::status_code(410));
    enqueue("orders", append(agg_a, 1));
    start_publisher(settings({webhook("orders", receiver.url())}));

    ASSERT_TRUE(wait_until(
        [&] { return scalar("SELECT count(*) FROM sluice.webhook_state") == "1"; }, 10s));
    enqueue("orders", append(agg_b, 1));
    // Negative check: several poll and state-check intervals pass without a delivery.
    EXPECT_FALSE(receiver.wait_for_requests(2, 1500ms)) << "a disabled endpoint got a request";
    EXPECT_EQ(count("state = 'pending'"), 2);
    EXPECT_TRUE(metrics_.add("orders").disabled->Value() == 1);

    conn_.exec("DELETE FROM sluice.webhook_state WHERE webhook = 'orders'");
    ASSERT_TRUE(wait_until([&] { return count("state = 'delivered'") == 2; }, 10s));
}

// The disable_after clock is webhook_state.failing_since, so a publisher that starts (after a
// restart, or on another instance) continues it rather than starting over.
TEST_F(Publisher, TheDisableAfterClockLivesInTheDatabaseAndSurvivesARestart) {
    HttpReceiver receiver;
    receiver.set_default(Reaction::status_code(500));
    enqueue("orders", append(agg_a, 1));
    conn_.exec(R"SQL(INSERT INTO sluice.webhook_state (webhook, failing_since)
VALUES ('orders', now() - interval '2 hours'))SQL");
    auto w = webhook("orders", receiver.url());
    w.disable_after = 1h;
    start_publisher(settings({w}));

    ASSERT_TRUE(wait_until([&] { return metrics_.add("orders").disabled->Value() == 1; }, 10s));
    EXPECT_EQ(receiver.count(), 1u) << "the first failure is already past disable_after";
    EXPECT_NE(scalar("SELECT disabled_reason FROM sluice.webhook_state")
                  .find("no successful delivery since"),
              std::string::npos);
    EXPECT_EQ(count("state = 'pending'"), 1) << "the message waits, as after a 410";
}

TEST_F(Publisher, ASuccessStopsTheDisableAfterClockAndAFailureStartsIt) {
    HttpReceiver receiver;
    receiver.script(Reaction::status_code(200));
    receiver.set_default(Reaction::status_code(500));
    conn_.exec(R"SQL(INSERT INTO sluice.webhook_state (webhook, failing_since)
VALUES ('orders', now() - interval '2 hours'))SQL");
    enqueue("orders", append(agg_a, 1));
    auto w = webhook("orders", receiver.url());
    w.disable_after = 1h;
    start_publisher(settings({w}));
    ASSERT_TRUE(wait_until([&] { return count("state = 'delivered'") == 1; }, 10s));
    ASSERT_TRUE(wait_until(
        [&] {
            return scalar(
                       "SELECT count(*) FROM sluice.webhook_state WHERE failing_since IS NULL") ==
                   "1";
        },
        10s));

    enqueue("orders", append(agg_a, 2));
    ASSERT_TRUE(wait_until(
        [&] {
            return scalar(
                       "SELECT count(*) FROM sluice.webhook_state "
                       "WHERE failing_since > now() - interval '1 minute'") == "1";
        },
        10s))
        << "a failure after the success starts the clock again, from now";
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.webhook_state WHERE disabled_at IS NOT NULL"),
              "0");
}

TEST_F(Publisher, ResumesAtOnceWhenEnabledRatherThanAtTheNextStateCheck) {
    HttpReceiver receiver;
    receiver.script(Reaction::status_code(410));
    enqueue("orders", append(agg_a, 1));
    auto s = settings({webhook("orders", receiver.url())});
    s.state_check_interval = 1h;
    start_publisher(std::move(s));

    ASSERT_TRUE(wait_until([&] { return metrics_.add("orders").disabled->Value() == 1; }, 10s));
    ASSERT_TRUE(wait_until(
        [&] { return scalar("SELECT count(*) FROM sluice.webhook_state") == "1"; }, 10s));
    EXPECT_TRUE(outbox::enable(conn_, "orders"));
    ASSERT_TRUE(wait_until([&] { return count("state = 'delivered'") == 1; }, 10s))
        << "enable's NOTIFY should make the worker re-read its state; the next scheduled check "
           "is an hour away";
    EXPECT_FALSE(metrics_.add("orders").disabled->Value() == 1);
}

TEST_F(Publisher, GivesBackClaimedRowsItHasNotSentWhenStopped) {
    HttpReceiver receiver;
    receiver.set_default(Reaction{.delay = 500ms});
    for (int v = 1; v <= 6; ++v)
        enqueue("orders", append(agg_a, v));
    auto w = webhook("orders", receiver.url());
    w.ordering = config::Ordering::none;
    w.max_in_flight = 2;  // two sent, two more claimed and kept ready
    start_publisher(settings({w}));

    ASSERT_TRUE(receiver.wait_for_requests(2, 10s));
    stop_publisher();
    EXPECT_EQ(count("state = 'delivered'"), 2);
    EXPECT_EQ(count("state = 'pending' AND next_attempt_at <= now()"), 4)
        << "rows claimed but never sent must be due again at once, not when their lease ends";
    EXPECT_EQ(count("attempts = 0"), 4);
}

TEST_F(Publisher, DeliversOneAggregateInVersionOrderEvenAcrossRetries) {
    HttpReceiver receiver;
    std::vector<std::int64_t> ids;
    for (int v = 1; v <= 5; ++v)
        ids.push_back(append(agg_a, v));
    for (auto id : ids)
        enqueue("orders", id);
    receiver.script_for("msg_orders_" + std::to_string(ids[0]), Reaction::status_code(503));
    auto w = webhook("orders", receiver.url());
    w.max_in_flight = 8;
    start_publisher(settings({w}));

    ASSERT_TRUE(wait_until([&] { return count("state = 'delivered'") == 5; }, 15s));
    std::vector<std::string> order;
    for (const auto& r : receiver.requests())
        order.push_back(r.webhook_id);
    std::vector<std::string> expected = {"msg_orders_" + std::to_string(ids[0])};
    for (auto id : ids)
        expected.push_back("msg_orders_" + std::to_string(id));
    EXPECT_EQ(order, expected);
}

TEST_F(Publisher, DeliversInParallelWhenOrderingIsNone) {
    HttpReceiver receiver;
    receiver.set_default(Reaction{.delay = 400ms});
    for (int v = 1; v <= 4; ++v)
        enqueue("orders", append(agg_a, v));
    auto w = webhook("orders", receiver.url());
    w.ordering = config::Ordering::none;
    w.max_in_flight = 4;
    start_publisher(settings({w}));

    ASSERT_TRUE(receiver.wait_for_requests(4, 1200ms))
        << "four 400 ms responses in sequence would take 1.6 s";
    EXPECT_EQ(receiver.connections_accepted(), 4u);
    ASSERT_TRUE(wait_until([&] { return count("state = 'delivered'") == 4; }, 10s));
}

TEST_F(Publisher, NeverExceedsMaxInFlight) {
    HttpReceiver receiver;
    receiver.set_default(Reaction{.delay = 200ms});
    for (int v = 1; v <= 6; ++v)
        enqueue("orders", append(agg_a, v));
    auto w = webhook("orders", receiver.url());
    w.ordering = config::Ordering::none;
    w.max_in_flight = 2;
    start_publisher(settings({w}));

    ASSERT_TRUE(wait_until([&] { return count("state = 'delivered'") == 6; }, 15s));
    EXPECT_LE(receiver.connections_accepted(), 2u);
}

TEST_F(Publisher, ABlackHoledEndpointDoesNotDelayAnother) {
    HttpReceiver black_hole;
    black_hole.set_default(Reaction::hang());
    HttpReceiver healthy;
    for (int v = 1; v <= 10; ++v) {
        auto id = append(v % 2 ? agg_a : agg_b, (v + 1) / 2);
        enqueue("slow", id);
        enqueue("fast", id);
    }
    auto slow = webhook("slow", black_hole.url());
    slow.timeout = 10s;
    start_publisher(settings({slow, webhook("fast", healthy.url())}));

    ASSERT_TRUE(healthy.wait_for_requests(10, 5s));
    ASSERT_TRUE(
        wait_until([&] { return count("webhook = 'fast' AND state = 'delivered'") == 10; }, 5s));
    EXPECT_EQ(count("webhook = 'slow' AND state = 'delivered'"), 0);
}

TEST_F(Publisher, MarksAMessageWhoseEventVanishedAsDead) {
    HttpReceiver receiver;
    conn_.exec(R"SQL(INSERT INTO sluice.outbox (webhook, event_id, aggregate_id, event_timestamp)
VALUES ('orders', 987654, $1::uuid, now()))SQL",
               pg::Params(agg_a));
    start_publisher(settings({webhook("orders", receiver.url())}));

    ASSERT_TRUE(wait_until([&] { return count("state = 'dead'") == 1; }, 10s));
    EXPECT_NE(scalar("SELECT last_error FROM sluice.outbox").find("no longer exists"),
              std::string::npos);
    EXPECT_EQ(receiver.count(), 0u);
}

TEST_F(Publisher, RetentionDeletesOldDeliveredRowsTheirAttemptsAndSettledBatches) {
    HttpReceiver receiver;
    auto old_id = enqueue("orders", append(agg_a, 1));
    auto recent_id = enqueue("orders", append(agg_a, 2));
    auto old_too_id = enqueue("orders", append(agg_b, 1));
    conn_.exec(
        "UPDATE sluice.outbox SET state = 'delivered', delivered_at = now() - interval "
        "'10 days' WHERE id IN ($1, $2)",
        pg::Params(old_id, old_too_id));
    conn_.exec(
        "UPDATE sluice.outbox SET state = 'delivered', delivered_at = now() - interval "
        "'1 day' WHERE id = $1",
        pg::Params(recent_id));
    // Each with an attempt: the deleted message's goes with it, the kept one's stays.
    conn_.exec(
        "INSERT INTO sluice.outbox_attempts (outbox_id, status, duration_ms) "
        "SELECT id, 200, 1 FROM sluice.outbox");
    // Attempts of batched requests: one goes with its last member, one stays with a kept member.
    conn_.exec(
        "INSERT INTO sluice.outbox_attempts (members, status, duration_ms) "
        "VALUES (ARRAY[$1::bigint, $2::bigint], 200, 1), (ARRAY[$1::bigint, $3::bigint], 200, 1)",
        pg::Params(old_id, old_too_id, recent_id));
    // Batches in flight: one lapsed with nothing pending (goes), one lapsed holding a pending
    // message (of a webhook nobody delivers here; stays), one still leased (stays).
    auto waiting_id = enqueue("elsewhere", append(agg_b, 2));
    conn_.exec(
        "INSERT INTO sluice.outbox_batches (id, webhook, members, leased_until) VALUES "
        "(1, 'orders', ARRAY[$1::bigint], now() - interval '1 minute'), "
        "(2, 'elsewhere', ARRAY[$2::bigint], now() - interval '1 minute'), "
        "(3, 'orders', ARRAY[$1::bigint], now() + interval '1 hour')",
        pg::Params(recent_id, waiting_id));
    start_publisher(settings({webhook("orders", receiver.url())}));
    ASSERT_TRUE(wait_until(
        [&] {
            return conn_.exec("SELECT count(*) FROM sluice.outbox_batches WHERE id = 1")
                       .int64(0, 0) == 0;
        },
        10s));
    EXPECT_EQ(
        conn_.exec("SELECT array_agg(id ORDER BY id)::text FROM sluice.outbox_batches").text(0, 0),
        "{2,3}");

    ASSERT_TRUE(wait_until([&] { return count("webhook = 'orders'") == 1; }, 10s));
    EXPECT_EQ(count("id = " + std::to_string(recent_id)), 1);
    EXPECT_EQ(conn_
                  .exec("SELECT string_agg(coalesce(outbox_id::text, members::text), ' ' "
                        "ORDER BY outbox_id NULLS LAST) FROM sluice.outbox_attempts")
                  .text(0, 0),
              std::to_string(recent_id) + " {" + std::to_string(old_id) + "," +
                  std::to_string(recent_id) + "}");
}

TEST_F(Publisher, AMemberOfABatchInFlightWaitsForItsLeaseThenGoesAloneAndTheBatchIsDropped) {
    HttpReceiver receiver;
    auto id = enqueue("orders", append(agg_a, 1));
    auto other_id = enqueue("elsewhere", append(agg_b, 1));  // pending: nobody delivers it here
    // As if another instance still delivered "orders" batched (a reload not yet everywhere).
    const auto leased_at = std::chrono::steady_clock::now();
    conn_.exec(
        "INSERT INTO sluice.outbox_batches (id, webhook, members, leased_until) "
        "VALUES (7, 'orders', ARRAY[$1::bigint, $2::bigint], now() + interval '2 seconds')",
        pg::Params(id, other_id));
    start_publisher(settings({webhook("orders", receiver.url())}));
    ASSERT_TRUE(wait_until([&] { return count("state = 'delivered'") == 1; }, 15s));
    ASSERT_EQ(receiver.count(), 1u);
    EXPECT_GE(receiver.requests().front().received_at - leased_at, 2s)
        << "sent alone while its batch was in flight";
    // Its record drops the lapsed batch (which the retention pass keeps: a member is pending),
    // so a requeue of the message could not send it under the batch's id.
    EXPECT_EQ(conn_.exec("SELECT count(*) FROM sluice.outbox_batches").int64(0, 0), 0);
    EXPECT_EQ(count("id = " + std::to_string(other_id) + " AND state = 'pending'"), 1);
}

TEST_F(Publisher, RedeliversARowWhoseLeaseExpired) {
    HttpReceiver receiver;
    auto id = enqueue("orders", append(agg_a, 1));
    // As if another instance claimed it and crashed: leased until shortly from now.
    conn_.exec(
        "UPDATE sluice.outbox SET next_attempt_at = now() + interval '300 milliseconds' "
        "WHERE id = $1",
        pg::Params(id));
    start_publisher(settings({webhook("orders", receiver.url())}));
    ASSERT_TRUE(wait_until([&] { return count("state = 'delivered'") == 1; }, 10s));
}

TEST_F(Publisher, RejectsAMalformedSecretAtConstructionNamingTheWebhook) {
    auto w = webhook("orders", "http://127.0.0.1:1/");
    w.secrets = {"whsec_***"};
    try {
        outbox::Publisher p(ioc_.get_executor(), settings({w}), metrics_);
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("webhook orders"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("***"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace sluice::testing
