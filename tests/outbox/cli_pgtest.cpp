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
    auto dead = outbox::outbox_list(conn_, {.webhook = "orders", .state = "dead"}, "events");
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].id, ids_[0]);
    EXPECT_EQ(dead[0].attempts, 8);
    EXPECT_EQ(dead[0].last_error, "HTTP 500");
    EXPECT_EQ(dead[0].aggregate_id, agg);
    EXPECT_FALSE(dead[0].next_attempt_at) << "a dead row is not attempted again";

    EXPECT_EQ(outbox::outbox_list(conn_, {}, "events").size(), 4u);
    EXPECT_EQ(outbox::outbox_list(conn_, {.limit = 2}, "events").size(), 2u);
    EXPECT_EQ(outbox::outbox_list(conn_, {.webhook = "billing"}, "events").at(0).state,
              "delivered");
}

TEST_F(OutboxCli, ListGivesANextAttemptOnlyToPendingRows) {
    auto rows = outbox::outbox_list(conn_, {}, "events");
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_FALSE(rows[0].next_attempt_at);  // dead
    ASSERT_TRUE(rows[1].next_attempt_at);   // pending, retry in an hour
    EXPECT_EQ(rows[1].next_attempt_at->back(), 'Z');
    EXPECT_TRUE(rows[2].next_attempt_at);   // pending, due
    EXPECT_FALSE(rows[3].next_attempt_at);  // delivered
}

TEST_F(OutboxCli, RetryMakesDeadRowsDueAgainKeepingTheirId) {
    EXPECT_EQ(outbox::retry_webhook(conn_, "orders"), 1);
    auto row = outbox::outbox_list(conn_, {.webhook = "orders"}, "events").at(0);
    EXPECT_EQ(row.id, ids_[0]);
    EXPECT_EQ(row.state, "pending");
    EXPECT_EQ(row.attempts, 0);
    EXPECT_EQ(count("id = " + std::to_string(ids_[0]) + " AND next_attempt_at <= now()"), 1);
}

TEST_F(OutboxCli, RetryByIdsResetsExactlyThoseRows) {
    auto outcome = outbox::retry_ids(conn_, {ids_[0], ids_[1]});
    EXPECT_EQ(outcome.requeued, 2);
    EXPECT_TRUE(outcome.unknown.empty());
    EXPECT_TRUE(outcome.delivered.empty());
    EXPECT_EQ(count("state = 'pending' AND attempts = 0 AND next_attempt_at <= now()"), 3);
    EXPECT_EQ(count("state = 'dead'"), 0);
    EXPECT_EQ(outbox::retry_ids(conn_, {}).requeued, 0);
}

TEST_F(OutboxCli, RetryByIdsChangesNothingWhenAnIdIsUnknown) {
    auto outcome = outbox::retry_ids(conn_, {ids_[0], 999999});
    EXPECT_EQ(outcome.requeued, 0);
    EXPECT_EQ(outcome.unknown, std::vector<std::int64_t>{999999});
    EXPECT_EQ(count("state = 'dead'"), 1);
}

TEST_F(OutboxCli, RetryByIdsResendsADeliveredRowOnlyWhenAskedTo) {
    auto refused = outbox::retry_ids(conn_, {ids_[0], ids_[3]});
    EXPECT_EQ(refused.requeued, 0);
    EXPECT_EQ(refused.delivered, std::vector<std::int64_t>{ids_[3]});
    EXPECT_EQ(count("state = 'delivered'"), 1);
    EXPECT_EQ(count("state = 'dead'"), 1);

    EXPECT_EQ(outbox::retry_ids(conn_, {ids_[0], ids_[3]}, true).requeued, 2);
    EXPECT_EQ(count("state = 'delivered'"), 0);
}

TEST_F(OutboxCli, KnownWebhooksAreThoseWithRowsOrAState) {
    conn_.exec("INSERT INTO sluice.webhook_state VALUES ('audit', NULL, NULL)");
    EXPECT_EQ(outbox::known_webhooks(conn_),
              (std::vector<std::string>{"audit", "billing", "orders"}));
}

TEST_F(OutboxCli, StatusListsAWebhookWhoseRowsAreAllDelivered) {
    auto id = enqueue("shipping", append(agg, 5));
    conn_.exec("UPDATE sluice.outbox SET state = 'delivered', delivered_at = now() WHERE id = $1",
               pg::Params(id));
    auto status = outbox::outbox_status(conn_, {});
    ASSERT_EQ(status.size(), 3u);
    EXPECT_EQ(status[2].webhook, "shipping");
    EXPECT_EQ(status[2].pending, 0);
    EXPECT_EQ(status[2].dead, 0);
}

TEST_F(OutboxCli, EnableClearsTheDisabledState) {
    EXPECT_TRUE(outbox::enable(conn_, "billing"));
    EXPECT_FALSE(outbox::enable(conn_, "billing"));
    EXPECT_FALSE(outbox::outbox_status(conn_, {"billing"}).at(0).disabled);
}

}  // namespace
}  // namespace sluice::testing
