// The operator's side of failing endpoints, end to end: an endpoint that answers 410 Gone is
// disabled (metrics, `sluice outbox status`) until `sluice outbox enable`; one that always
// fails exhausts its schedule into dead letters (`sluice outbox list`, metrics), which
// `sluice outbox retry` delivers again under the same webhook-ids.
#include <set>

#include "webhook_fixture.hpp"

namespace sluice::testing {
namespace {

class WebhookEndpointState : public WebhookTest {};

std::set<std::string> ids_of(const std::vector<ReceivedRequest>& requests, std::size_t from = 0) {
    std::set<std::string> out;
    for (std::size_t i = from; i < requests.size(); ++i)
        out.insert(requests[i].webhook_id);
    return out;
}

TEST_F(WebhookEndpointState, GoneDisablesTheEndpointUntilEnabledThenTheQueueArrives) {
    HttpReceiver receiver({.secrets = {secret_a}});
    receiver.set_default(Reaction::status_code(410));
    write_config({webhook_yaml("gone", receiver.url())});
    // One aggregate: per_aggregate ordering sends one request at a time, so exactly one 410.
    append_aggregate(5);
    auto daemon = DaemonProcess::start(config_path_);

    ASSERT_TRUE(receiver.wait_for_requests(1, 20s)) << diagnose(daemon);
    ASSERT_TRUE(wait_until(
        [&] { return metric(daemon, "sluice_webhook_disabled", "gone") == std::optional(1.0); },
        5s))
        << daemon.http_get("/metrics").body;
    auto status = outbox_cli({"status"});
    EXPECT_NE(status.find("gone     no ("), std::string::npos) << status;
    auto json_status = outbox_cli({"status", "--json"});
    EXPECT_NE(json_status.find(R"("enabled":false)"), std::string::npos) << json_status;

    // Two state checks (5 s apart) and many polls pass: nothing more may be sent.
    EXPECT_FALSE(receiver.wait_for_requests(2, 6s))
        << "sluice kept sending to a disabled endpoint\n"
        << diagnose(daemon);
    EXPECT_EQ(outbox_rows("gone", "pending"), 5);

    receiver.set_default(Reaction::status_code(204));
    auto enabled = outbox_cli({"enable", "gone"});
    EXPECT_NE(enabled.find("enabled gone"), std::string::npos) << enabled;
    EXPECT_TRUE(receiver.wait_for_requests(2, 3s))
        << "enable should wake the running daemon at once, not at its next state check (5 s)";
    ASSERT_TRUE(wait_outbox_rows("gone", "delivered", 5, 20s)) << diagnose(daemon);
    auto requests = receiver.requests();
    EXPECT_EQ(requests.size(), 6u) << "one 410, then each message once";
    EXPECT_EQ(ids_of(requests, 1).size(), 5u);
    EXPECT_TRUE(ids_of(requests, 1).contains(requests.front().webhook_id))
        << "the message that got 410 is delivered after enabling";
    ASSERT_TRUE(wait_until(
        [&] { return metric(daemon, "sluice_webhook_disabled", "gone") == std::optional(0.0); },
        5s));
}

TEST_F(WebhookEndpointState, DeadLettersAfterTheScheduleAreRetriedWithTheSameIds) {
    HttpReceiver receiver({.secrets = {secret_a}});
    receiver.set_default(Reaction::status_code(500));
    write_config({webhook_yaml("flaky", receiver.url())});
    for (int i = 0; i < 3; ++i)
        append_aggregate(1);
    auto daemon = DaemonProcess::start(config_path_);

    // Schedule [100ms, 200ms, 300ms]: four attempts each, then dead.
    ASSERT_TRUE(wait_outbox_rows("flaky", "dead", 3, 20s)) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox WHERE attempts = 4"), 3);
    EXPECT_EQ(receiver.count(), 12u);
    auto failed_ids = ids_of(receiver.requests());
    EXPECT_EQ(failed_ids.size(), 3u);

    auto listed = outbox_cli({"list", "--state", "dead"});
    auto events = conn().exec("SELECT id FROM events ORDER BY id");
    for (int i = 0; i < events.rows(); ++i) {
        EXPECT_NE(listed.find("  flaky    " + std::to_string(events.int64(i, 0)) + "  "),
                  std::string::npos)
            << listed;
    }
    EXPECT_NE(listed.find("HTTP 500"), std::string::npos) << listed;
    // The gauge follows the queue counts, refreshed every ~15 s.
    ASSERT_TRUE(wait_until(
        [&] { return metric(daemon, "sluice_outbox_dead", "flaky") == std::optional(3.0); }, 25s))
        << daemon.http_get("/metrics").body;

    std::size_t before = receiver.count();
    receiver.set_default(Reaction::status_code(200));
    auto retried = outbox_cli({"retry", "--webhook", "flaky", "--state", "dead"});
    EXPECT_NE(retried.find("re-queued 3 messages"), std::string::npos) << retried;
    ASSERT_TRUE(wait_outbox_rows("flaky", "delivered", 3, 20s)) << diagnose(daemon);
    EXPECT_EQ(receiver.count(), before + 3);
    EXPECT_EQ(ids_of(receiver.requests(), before), failed_ids);
    for (const auto& r : receiver.requests())
        EXPECT_TRUE(r.signature_valid) << r.webhook_id;
}

}  // namespace
}  // namespace sluice::testing
