// Endpoint health end to end through `sluice run`: a receiver that is down opens the webhook's
// circuit (no attempts while it is open, one probe per cool-down, doubling up to the cap) and
// its recovery closes it with every message delivered; a rate_limit holds the request rate
// while messages queue; an endpoint failing past disable_after is disabled and announced to the
// ops webhook as a signed operational event, and so is its re-enabling; the circuit's opening and
// closing are announced there too, once per outage.
#include <boost/json.hpp>

#include <algorithm>
#include <set>

#include "webhook_fixture.hpp"

namespace sluice::testing {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

class WebhookEndpointHealth : public WebhookTest {};

std::string retry_many(int n) {
    std::string schedule;
    for (int i = 0; i < n; ++i)
        schedule += (i == 0 ? "" : ", ") + std::string("100ms");
    return "    retry: {schedule: [" + schedule + "], jitter: 0%}\n";
}

milliseconds gap(const ReceivedRequest& earlier, const ReceivedRequest& later) {
    return duration_cast<milliseconds>(later.received_at - earlier.received_at);
}

TEST_F(WebhookEndpointHealth, ADownReceiverOpensTheCircuitAndItsRecoveryClosesIt) {
    HttpReceiver receiver({.secrets = {secret_a}});
    receiver.set_default(Reaction::status_code(503));
    // One request at a time, so the receiver's arrival order is the order of the attempts.
    write_config({webhook_yaml("orders", receiver.url(),
                               "    max_in_flight: 1\n"
                               "    ordering: none\n"
                               "    circuit: {failures: 3, cool_down: 1s, max_cool_down: 2s}\n" +
                                   retry_many(30))});
    for (int i = 0; i < 10; ++i)
        append_aggregate(2);
    auto daemon = DaemonProcess::start(config_path_);

    // Three failures open it; probes follow after 1 s, 2 s, 2 s (capped) while it stays down.
    ASSERT_TRUE(receiver.wait_for_requests(6, 20s)) << diagnose(daemon);
    EXPECT_EQ(metric(daemon, "sluice_webhook_circuit_state", "orders", ",state=\"closed\""),
              std::optional(0.0));
    receiver.set_default(Reaction::status_code(204));
    ASSERT_TRUE(wait_outbox_rows("orders", "delivered", 20, 30s)) << diagnose(daemon);
    EXPECT_EQ(outbox_rows("orders", "dead"), 0);

    auto requests = receiver.requests();
    ASSERT_GE(requests.size(), 7u);
    // Requests 0-2 failed and opened it; 3, 4, 5 were failed probes; 6 the successful one.
    const std::vector<milliseconds> cool_downs = {1000ms, 2000ms, 2000ms, 2000ms};
    for (std::size_t i = 0; i < cool_downs.size(); ++i) {
        auto waited = gap(requests[2 + i], requests[3 + i]);
        EXPECT_GE(waited, cool_downs[i] - 50ms)
            << "request " << 3 + i << " came " << waited.count()
            << " ms after the previous one: sent while the circuit was open";
        EXPECT_LT(waited, cool_downs[i] + 1500ms) << "request " << 3 + i << ": probe late";
    }
    // Once closed, the queue drains at once (no cool-down between requests).
    EXPECT_LT(gap(requests[6], requests.back()), 5s);
    EXPECT_EQ(requests.size(), 26u) << "six failed attempts, then the 20 messages once each";
    std::set<std::string> ids;
    for (const auto& r : requests)
        ids.insert(r.webhook_id);
    EXPECT_EQ(ids.size(), 20u);
    // The circuit consumed no retries: every recorded attempt is one the receiver saw.
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox_attempts"),
              static_cast<std::int64_t>(requests.size()));
    EXPECT_EQ(metric(daemon, "sluice_webhook_circuit_state", "orders", ",state=\"closed\""),
              std::optional(1.0));
    EXPECT_EQ(daemon.count_in_log("webhook circuit open"), 4u) << daemon.output_tail(60);
    EXPECT_EQ(daemon.count_in_log("webhook circuit closed"), 1u) << daemon.output_tail(60);
}

TEST_F(WebhookEndpointHealth, RateLimitHoldsTheRequestRateWhileMessagesQueue) {
    HttpReceiver receiver({.secrets = {secret_a}});
    write_config(
        {webhook_yaml("orders", receiver.url(), "    ordering: none\n    rate_limit: 20/s\n")});
    append_many(100, 4);  // 400 messages: 20 s of sending at 20/s
    auto daemon = DaemonProcess::start(config_path_);

    ASSERT_TRUE(receiver.wait_for_requests(1, 20s)) << diagnose(daemon);
    const auto first = receiver.requests().front().received_at;
    ASSERT_TRUE(
        wait_until([&] { return receiver.requests().back().received_at >= first + 10s; }, 20s))
        << diagnose(daemon);
    EXPECT_GT(outbox_rows("orders", "pending"), 100) << "messages must still be queueing";
    auto requests = receiver.requests();
    auto in_window = std::count_if(requests.begin(), requests.end(),
                                   [&](const auto& r) { return r.received_at < first + 10s; });
    EXPECT_GE(in_window, 180) << "20/s over 10 s is 200 requests";
    EXPECT_LE(in_window, 220) << "20/s over 10 s is 200 requests";
    // No one-second window sees more than the rate plus the bucket's burst (2 tokens).
    for (std::size_t i = 0; i < requests.size(); ++i) {
        auto end = requests[i].received_at + 1s;
        auto n = std::count_if(requests.begin() + static_cast<long>(i), requests.end(),
                               [&](const auto& r) { return r.received_at < end; });
        ASSERT_LE(n, 23) << "one-second window starting at request " << i;
    }
}

// An operational event's body as the ops receiver got it.
boost::json::object operational_body(const ReceivedRequest& request) {
    auto body = boost::json::parse(request.body).as_object();
    EXPECT_EQ(body.at("schema").as_int64(), 1) << request.body;
    EXPECT_TRUE(body.at("timestamp").is_string()) << request.body;
    return body;
}

TEST_F(WebhookEndpointHealth, FailingPastDisableAfterDisablesAndTellsTheOpsWebhook) {
    HttpReceiver receiver({.secrets = {secret_a}});
    HttpReceiver ops({.secrets = {secret_b}});
    receiver.set_default(Reaction::status_code(500));
    write_config(
        {webhook_yaml("orders", receiver.url(),
                      "    disable_after: 2s\n    notify: ops\n"
                      "    circuit: {failures: 1000}\n" +
                          retry_many(100)),
         webhook_yaml("ops", ops.url(), "    event_types: [NoEventHasThisType]\n", {secret_b})});
    append_aggregate(3);
    auto daemon = DaemonProcess::start(config_path_);

    ASSERT_TRUE(wait_until(
        [&] { return metric(daemon, "sluice_webhook_disabled", "orders") == std::optional(1.0); },
        20s))
        << diagnose(daemon);
    ASSERT_TRUE(ops.wait_for_requests(1, 10s)) << diagnose(daemon);
    auto announced = ops.requests().front();
    EXPECT_TRUE(announced.signature_valid) << "signed with the ops webhook's secret";
    EXPECT_EQ(announced.webhook_id.rfind("op_ops_", 0), 0u) << announced.webhook_id;
    auto body = operational_body(announced);
    EXPECT_EQ(body.at("type").as_string(), "sluice.endpoint.disabled");
    const auto& data = body.at("data").as_object();
    EXPECT_EQ(data.at("webhook").as_string(), "orders");
    EXPECT_NE(std::string(data.at("reason").as_string()).find("no successful delivery since"),
              std::string::npos)
        << announced.body;
    EXPECT_TRUE(data.at("failing_since").is_string()) << announced.body;
    EXPECT_TRUE(data.at("disabled_at").is_string()) << announced.body;
    ASSERT_TRUE(wait_outbox_rows("ops", "delivered", 1, 10s)) << diagnose(daemon);

    // The failures really lasted disable_after: the first and last attempt are >= 2 s apart.
    auto failed = receiver.requests();
    ASSERT_GE(failed.size(), 2u);
    EXPECT_GE(gap(failed.front(), failed.back()), 2000ms - 50ms);
    EXPECT_FALSE(receiver.wait_for_requests(failed.size() + 1, 3s))
        << "sluice kept sending to a disabled endpoint\n"
        << diagnose(daemon);
    EXPECT_EQ(outbox_rows("orders", "pending"), 3);
    EXPECT_EQ(outbox_rows("orders", "dead"), 0);
    EXPECT_EQ(ops.count(), 1u) << "announced once";

    receiver.set_default(Reaction::status_code(204));
    auto enabled = outbox_cli({"enable", "orders"});
    EXPECT_NE(enabled.find("enabled orders"), std::string::npos) << enabled;
    ASSERT_TRUE(wait_outbox_rows("orders", "delivered", 3, 20s)) << diagnose(daemon);
    ASSERT_TRUE(ops.wait_for_requests(2, 10s)) << diagnose(daemon);
    auto again = ops.requests().at(1);
    EXPECT_TRUE(again.signature_valid);
    auto enabled_body = operational_body(again);
    EXPECT_EQ(enabled_body.at("type").as_string(), "sluice.endpoint.enabled");
    EXPECT_EQ(enabled_body.at("data").as_object().at("webhook").as_string(), "orders");
    EXPECT_NE(again.webhook_id, announced.webhook_id);
    ASSERT_TRUE(wait_until(
        [&] { return metric(daemon, "sluice_webhook_disabled", "orders") == std::optional(0.0); },
        10s));
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.webhook_state WHERE failing_since IS NOT NULL"),
              0)
        << "a success clears the failing clock";
}

TEST_F(WebhookEndpointHealth, TheCircuitsOpeningAndClosingAreAnnouncedOncePerOutage) {
    HttpReceiver receiver({.secrets = {secret_a}});
    HttpReceiver ops({.secrets = {secret_b}});
    receiver.set_default(Reaction::status_code(503));
    write_config(
        {webhook_yaml("orders", receiver.url(),
                      "    max_in_flight: 1\n    ordering: none\n    notify: ops\n"
                      "    circuit: {failures: 2, cool_down: 300ms, max_cool_down: 600ms}\n" +
                          retry_many(30)),
         webhook_yaml("ops", ops.url(), "    event_types: [NoEventHasThisType]\n", {secret_b})});
    append_aggregate(4);
    auto daemon = DaemonProcess::start(config_path_);

    ASSERT_TRUE(ops.wait_for_requests(1, 20s)) << diagnose(daemon);
    auto opened = ops.requests().front();
    EXPECT_TRUE(opened.signature_valid) << "signed with the ops webhook's secret";
    EXPECT_EQ(opened.webhook_id.rfind("op_ops_", 0), 0u) << opened.webhook_id;
    auto body = operational_body(opened);
    EXPECT_EQ(body.at("type").as_string(), "sluice.endpoint.circuit_opened") << opened.body;
    const auto& data = body.at("data").as_object();
    EXPECT_EQ(data.at("webhook").as_string(), "orders");
    EXPECT_EQ(data.at("consecutive_failures").as_int64(), 2) << opened.body;
    EXPECT_EQ(data.at("cool_down_ms").as_int64(), 300) << opened.body;
    EXPECT_TRUE(data.at("opened_at").is_string()) << opened.body;

    // Failed probes reopen it (2 failures, then probes): not announced again.
    ASSERT_TRUE(receiver.wait_for_requests(5, 20s)) << diagnose(daemon);
    EXPECT_EQ(ops.count(), 1u) << "a failed probe is no new outage";
    receiver.set_default(Reaction::status_code(204));
    ASSERT_TRUE(wait_outbox_rows("orders", "delivered", 4, 20s)) << diagnose(daemon);
    ASSERT_TRUE(wait_outbox_rows("ops", "delivered", 2, 20s)) << diagnose(daemon);
    auto closed = ops.requests().at(1);
    EXPECT_TRUE(closed.signature_valid);
    auto closed_body = operational_body(closed);
    EXPECT_EQ(closed_body.at("type").as_string(), "sluice.endpoint.circuit_closed") << closed.body;
    EXPECT_EQ(closed_body.at("data").as_object().at("webhook").as_string(), "orders");
    EXPECT_TRUE(closed_body.at("data").as_object().at("closed_at").is_string()) << closed.body;
    EXPECT_NE(closed.webhook_id, opened.webhook_id);
    EXPECT_EQ(ops.count(), 2u);
    EXPECT_GE(daemon.count_in_log("webhook circuit open"), 2u) << daemon.output_tail(60);
}

}  // namespace
}  // namespace sluice::testing
