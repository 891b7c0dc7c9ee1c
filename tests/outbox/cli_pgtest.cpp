// The `sluice outbox` queries: status, list, retry, enable.
#include "outbox/cli.hpp"

#include "outbox_fixture.hpp"

namespace sluice::testing {
namespace {

const std::string agg = "6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77";

class OutboxCli : public OutboxDatabaseTest {
  protected:
    void SetUp() override {
        ids_.push_back(enqueue("orders", append(agg, 1)));
        ids_.push_back(enqueue("orders", append(agg, 2)));
        ids_.push_back(enqueue("orders", append(agg, 3)));
        ids_.push_back(enqueue("billing", append(agg, 4)));
        conn_.exec(
            "UPDATE sluice.outbox SET state = 'dead', attempts = 8, last_error = 'HTTP 500' "
            "WHERE id = $1",
            pg::Params(ids_[0]));
        conn_.exec(
            "UPDATE sluice.outbox SET next_attempt_at = now() + interval '1 hour', "
            "attempts = 1, last_error = 'timed out' WHERE id = $1",
            pg::Params(ids_[1]));
        conn_.exec(
            "UPDATE sluice.outbox SET state = 'delivered', delivered_at = now() WHERE id = $1",
            pg::Params(ids_[3]));
        conn_.exec(
            "INSERT INTO sluice.webhook_state VALUES ('billing', now(), 'endpoint answered "
            "410 Gone')");
    }
    std::vector<std::int64_t> ids_;
};

TEST_F(OutboxCli, StatusCountsEachWebhookInConfigurationOrder) {
    auto status = outbox::outbox_status(conn_, {"orders", "billing", "unused"});
    ASSERT_EQ(status.size(), 3u);
    const auto& orders = status[0];
    EXPECT_EQ(orders.webhook, "orders");
    EXPECT_EQ(orders.pending, 2);
    EXPECT_EQ(orders.due, 1);
    EXPECT_EQ(orders.scheduled, 1);
    EXPECT_EQ(orders.dead, 1);
    ASSERT_TRUE(orders.oldest_pending_age_s);
    EXPECT_GE(*orders.oldest_pending_age_s, 0.0);
    EXPECT_TRUE(orders.last_error);
    EXPECT_FALSE(orders.disabled);

    EXPECT_EQ(status[1].webhook, "billing");
    EXPECT_TRUE(status[1].disabled);
    EXPECT_EQ(status[1].disabled_reason, "endpoint answered 410 Gone");
    EXPECT_EQ(status[1].pending, 0);
    EXPECT_EQ(status[2].webhook, "unused");
    EXPECT_EQ(status[2].pending, 0);
}

TEST_F(OutboxCli, StatusAlsoListsWebhooksThatAreNoLongerConfigured) {
    auto status = outbox::outbox_status(conn_, {});
    ASSERT_EQ(status.size(), 2u);
    EXPECT_EQ(status[0].webhook, "billing");
    EXPECT_EQ(status[1].webhook, "orders");
}

TEST_F(OutboxCli, ListFiltersByWebhookAndState) {
    auto dead = outbox::outbox_list(conn_, {.webhook = "orders", .state = "dead"});
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].id, ids_[0]);
    EXPECT_EQ(dead[0].attempts, 8);
    EXPECT_EQ(dead[0].last_error, "HTTP 500");
    EXPECT_EQ(dead[0].aggregate_id, agg);
    EXPECT_EQ(dead[0].next_attempt_at.back(), 'Z');

    EXPECT_EQ(outbox::outbox_list(conn_, {}).size(), 4u);
    EXPECT_EQ(outbox::outbox_list(conn_, {.limit = 2}).size(), 2u);
    EXPECT_EQ(outbox::outbox_list(conn_, {.webhook = "billing"}).at(0).state, "delivered");
}

TEST_F(OutboxCli, RetryMakesDeadRowsDueAgainKeepingTheirId) {
    EXPECT_EQ(outbox::retry_webhook(conn_, "orders"), 1);
    auto row = outbox::outbox_list(conn_, {.webhook = "orders"}).at(0);
    EXPECT_EQ(row.id, ids_[0]);
    EXPECT_EQ(row.state, "pending");
    EXPECT_EQ(row.attempts, 0);
    EXPECT_EQ(count("id = " + std::to_string(ids_[0]) + " AND next_attempt_at <= now()"), 1);
}

TEST_F(OutboxCli, RetryByIdsResetsExactlyThoseRows) {
    EXPECT_EQ(outbox::retry_ids(conn_, {ids_[1], ids_[3], 999999}), 2);
    EXPECT_EQ(count("state = 'pending' AND attempts = 0 AND next_attempt_at <= now()"), 3);
    EXPECT_EQ(count("state = 'dead'"), 1);
    EXPECT_EQ(outbox::retry_ids(conn_, {}), 0);
}

TEST_F(OutboxCli, EnableClearsTheDisabledState) {
    EXPECT_TRUE(outbox::enable(conn_, "billing"));
    EXPECT_FALSE(outbox::enable(conn_, "billing"));
    EXPECT_FALSE(outbox::outbox_status(conn_, {"billing"}).at(0).disabled);
}

}  // namespace
}  // namespace sluice::testing
