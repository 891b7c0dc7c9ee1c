// `sluice outbox replay` against a running daemon and a real receiver: the messages settled in
// the window are sent again with their original webhook-id and body, those before it are not,
// --dry-run sends nothing, and `sluice outbox show` lists every attempt of a replayed message.
#include <gmock/gmock.h>

#include <boost/json.hpp>
#include <map>

#include "infra/pg/literal.hpp"
#include "webhook_fixture.hpp"

namespace sluice::testing {
namespace {

class WebhookReplay : public WebhookTest {};

TEST_F(WebhookReplay, ResendsTheWindowWithTheOriginalIdsAndBodiesAndShowListsBothAttempts) {
    HttpReceiver receiver({.secrets = {secret_a}});
    write_config({webhook_yaml("orders", receiver.url())});
    auto daemon = DaemonProcess::start(config_path_);
    const std::string before = append_aggregate(3);
    ASSERT_TRUE(wait_outbox_rows("orders", "delivered", 3, 20s)) << diagnose(daemon);
    // The window opens after those three were delivered, by the server's clock.
    const std::string since =
        std::string(conn().exec("SELECT " + pg::iso_utc("clock_timestamp()")).text(0, 0));
    const std::string inside = append_aggregate(2, "OrderShipped");
    ASSERT_TRUE(wait_outbox_rows("orders", "delivered", 5, 20s)) << diagnose(daemon);
    const auto originals = receiver.requests();
    ASSERT_EQ(originals.size(), 5u);
    std::map<std::string, std::string> body_of;  // webhook-id -> body
    for (const auto& r : originals)
        body_of[r.webhook_id] = r.body;

    EXPECT_EQ(outbox_cli({"replay", "orders", "--since", since, "--dry-run"}),
              "would replay 2 messages of orders (2 delivered, 0 dead) settled since " + since +
                  "; nothing re-queued (--dry-run)\n");
    EXPECT_EQ(outbox_rows("orders", "delivered"), 5) << "--dry-run re-queued something";

    EXPECT_EQ(outbox_cli({"replay", "orders", "--since", since}),
              "replayed 2 messages of orders (2 delivered, 0 dead) settled since " + since +
                  ": re-queued with the same webhook-id and body, fresh attempts\n");
    ASSERT_TRUE(receiver.wait_for_requests(7, 20s)) << diagnose(daemon);
    ASSERT_TRUE(wait_outbox_rows("orders", "delivered", 5, 20s)) << diagnose(daemon);

    const auto all = receiver.requests();
    ASSERT_EQ(all.size(), 7u);
    for (std::size_t i = 5; i < all.size(); ++i) {
        const auto replayed = parse_delivery(all[i]);
        EXPECT_EQ(replayed.aggregate_id, inside) << "a message outside the window was re-sent";
        ASSERT_TRUE(body_of.contains(replayed.webhook_id)) << replayed.webhook_id;
        EXPECT_EQ(replayed.body, body_of[replayed.webhook_id]);
        EXPECT_TRUE(replayed.signature_valid);
    }
    EXPECT_NE(all[5].webhook_id, all[6].webhook_id);

    // Both attempts of a replayed message are on record, each answered 200.
    const auto id =
        conn()
            .exec("SELECT min(id) FROM sluice.outbox WHERE aggregate_id = $1", pg::Params(inside))
            .int64(0, 0);
    auto shown = boost::json::parse(outbox_cli({"show", std::to_string(id), "--json"}));
    const auto& message = shown.as_object();
    EXPECT_EQ(message.at("state").as_string(), "delivered");
    EXPECT_EQ(message.at("webhook_id").as_string(),
              "msg_orders_" + std::to_string(message.at("event_id").as_int64()));
    const auto& attempts = message.at("attempt_log").as_array();
    ASSERT_EQ(attempts.size(), 2u) << shown;
    for (const auto& a : attempts)
        EXPECT_EQ(a.at("status").as_int64(), 200) << shown;
    (void)before;
}

}  // namespace
}  // namespace sluice::testing
