// kill -9 of `sluice run` while it delivers: after restarts every event is delivered at least
// once, a repeat is the same message (same webhook-id, identical body), and the outbox never
// holds two rows for one (webhook, event).
#include <csignal>
#include <iostream>
#include <map>
#include <set>

#include "webhook_fixture.hpp"

namespace sluice::testing {
namespace {

class WebhookCrash : public WebhookTest {};

constexpr int aggregates = 200;
constexpr int versions = 10;
constexpr std::int64_t total = aggregates * versions;

TEST_F(WebhookCrash, KillNineDuringDeliveryLosesNothingAndRepeatsOnlyIdenticalMessages) {
    HttpReceiver receiver({.secrets = {secret_a}});
    receiver.set_default(Reaction{.delay = 2ms});  // a slightly slow endpoint
    write_config({webhook_yaml("hook", receiver.url(), "    max_in_flight: 8\n")});
    append_many(aggregates, versions);

    // Two kills: every kill's claimed rows wait out their lease (2 x timeout + 5 s = 9 s here)
    // before they are due again, so each kill adds about that much to the suite.
    int killed_mid_way = 0;
    for (std::size_t kill_at : {400u, 1000u}) {
        auto daemon = DaemonProcess::start(config_path_);
        ASSERT_TRUE(receiver.wait_for_requests(kill_at, 60s))
            << "only " << receiver.count() << " requests before the kill at " << kill_at << "\n"
            << diagnose(daemon);
        daemon.kill(SIGKILL);
        auto exit = daemon.wait_exit(10s);
        ASSERT_TRUE(exit && exit->signal == SIGKILL) << "kill at " << kill_at;
        if (outbox_rows("hook", "delivered") < total)
            ++killed_mid_way;
    }
    EXPECT_EQ(killed_mid_way, 2) << "a kill landed after everything was delivered; the test "
                                    "proved less than it claims (slow the receiver down)";

    // Rows leased by a killed daemon are due again when their lease expires (9 s, not the
    // minute and more it used to be).
    auto daemon = DaemonProcess::start(config_path_);
    ASSERT_TRUE(wait_outbox_rows("hook", "delivered", total, 45s)) << diagnose(daemon);

    auto events = conn().exec("SELECT id FROM events");
    std::set<std::string> expected;
    for (int i = 0; i < events.rows(); ++i)
        expected.insert("msg_hook_" + std::to_string(events.int64(i, 0)));
    ASSERT_EQ(expected.size(), static_cast<std::size_t>(total));

    std::map<std::string, std::string> body_of;
    std::size_t repeats = 0;
    for (const auto& d : parse_deliveries(receiver.requests())) {
        EXPECT_TRUE(d.signature_valid) << d.webhook_id;
        EXPECT_EQ(d.webhook_id, "msg_hook_" + std::to_string(d.event_id));
        auto [it, first] = body_of.try_emplace(d.webhook_id, d.body);
        if (!first) {
            ++repeats;
            EXPECT_EQ(it->second, d.body) << d.webhook_id << " was repeated with another body";
        }
    }
    std::set<std::string> arrived;
    for (const auto& [id, body] : body_of)
        arrived.insert(id);
    EXPECT_EQ(arrived, expected) << "every event's webhook-id must arrive at least once";
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox WHERE webhook = 'hook'"), total);
    EXPECT_EQ(scalar("SELECT count(DISTINCT event_id) FROM sluice.outbox WHERE webhook = 'hook'"),
              total);
    std::cout << "[ info ] " << receiver.count() << " requests for " << total << " events ("
              << repeats << " repeats after the kills)\n";
}

}  // namespace
}  // namespace sluice::testing
