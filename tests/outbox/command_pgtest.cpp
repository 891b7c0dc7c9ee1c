// `sluice outbox` through the built binary: exit codes and messages for names and ids that do
// not exist, re-sending delivered messages, status without a config, list's next attempt and
// filters, show of an unknown id, and arguments or flags that do not fit an action.
#include <gmock/gmock.h>

#include <iterator>
#include <sstream>

#include "outbox_fixture.hpp"
#include "tests/store/sluice_process.hpp"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string agg = "6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77";

// Outbox rows: orders has a dead one (dead_) and a delivered one (delivered_); billing only
// delivered ones; audit is disabled and has none.
class OutboxCommand : public OutboxDatabaseTest {
  protected:
    void SetUp() override {
        dead_ = enqueue("orders", append(agg, 1));
        delivered_ = enqueue("orders", append(agg, 2));
        billing_ = enqueue("billing", append(agg, 3));
        conn_.exec("UPDATE sluice.outbox SET state = 'dead', attempts = 8 WHERE id = $1",
                   pg::Params(dead_));
        conn_.exec(
            "UPDATE sluice.outbox SET state = 'delivered', delivered_at = now() "
            "WHERE id = $1 OR id = $2",
            pg::Params(delivered_, billing_));
        conn_.exec("INSERT INTO sluice.webhook_state VALUES ('audit', now(), 'HTTP 410')");
    }

    ProcessResult outbox(std::vector<std::string> args) {
        args.insert(args.begin(), {"outbox", "--database-url", db_.url()});
        return run_sluice(args);
    }

    std::int64_t dead_ = 0;
    std::int64_t delivered_ = 0;
    std::int64_t billing_ = 0;
};

TEST_F(OutboxCommand, EnableOfAnUnknownWebhookFailsListingTheKnownOnes) {
    auto r = outbox({"enable", "nosuch"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err,
              "sluice outbox: no webhook named 'nosuch' (webhooks: audit, billing, orders)\n");
}

TEST_F(OutboxCommand, EnableListsTheConfiguredWebhooksTooAndNamesAProjection) {
    TempFile config("database:\n  url: \"" + db_.url() +
                    "\"\n"
                    "projections:\n  - name: totals\n    handlers:\n      E: SELECT 1\n"
                    "webhooks:\n  - name: shipping\n    url: \"http://127.0.0.1:1/\"\n"
                    "    secrets: [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n");
    auto r = run_sluice({"outbox", "enable", "totals", "--config", config.path()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err,
              "sluice outbox: 'totals' is a projection, not a webhook (webhooks: audit, billing, "
              "orders, shipping)\n");
}

TEST_F(OutboxCommand, EnableOfAKnownWebhookThatWasNotDisabledSaysSo) {
    auto r = outbox({"enable", "orders"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "was not disabled: orders\n");
    auto enabled = outbox({"enable", "audit"});
    EXPECT_EQ(enabled.exit_code, 0) << enabled.err;
    EXPECT_EQ(enabled.out, "enabled audit\n");
}

TEST_F(OutboxCommand, ListAndRetryOfAnUnknownWebhookFail) {
    auto list = outbox({"list", "--webhook", "nosuch"});
    EXPECT_EQ(list.exit_code, 2) << list.err;
    EXPECT_THAT(list.err, HasSubstr("no webhook named 'nosuch' (webhooks: "));
    auto retry = outbox({"retry", "--webhook", "nosuch"});
    EXPECT_EQ(retry.exit_code, 2) << retry.err;
    EXPECT_THAT(retry.err, HasSubstr("no webhook named 'nosuch'"));
}

TEST_F(OutboxCommand, RetryOfUnknownIdsFailsNamingThemAndRequeuesNothing) {
    auto r = outbox({"retry", std::to_string(dead_), "999998", "999999"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err,
              "sluice outbox: retry: no outbox messages with ids 999998, 999999 (nothing "
              "re-queued)\n");
    EXPECT_EQ(count("state = 'dead'"), 1);
}

TEST_F(OutboxCommand, RetryOfADeliveredMessageTakesTheDeliveredFlag) {
    auto id = std::to_string(delivered_);
    auto refused = outbox({"retry", id});
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_EQ(refused.err, "sluice outbox: retry: message " + id +
                               " was already delivered; pass --delivered to send it again "
                               "(nothing re-queued)\n");
    EXPECT_EQ(count("state = 'delivered'"), 2);

    auto resent = outbox({"retry", id, std::to_string(dead_), "--delivered"});
    EXPECT_EQ(resent.exit_code, 0) << resent.err;
    EXPECT_EQ(resent.out, "re-queued 2 messages (same webhook-id, attempts reset)\n");
    EXPECT_EQ(count("state = 'pending'"), 2);
}

TEST_F(OutboxCommand, RetryByWebhookStillRequeuesItsDeadMessages) {
    auto r = outbox({"retry", "--webhook", "orders"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "re-queued 1 message (same webhook-id, attempts reset)\n");
    EXPECT_EQ(count("state = 'pending'"), 1);
}

TEST_F(OutboxCommand, RetryByWebhookTakesAKnownStateAndDeliveredOnlyWithTheFlag) {
    auto bogus = outbox({"retry", "--webhook", "orders", "--state", "bogus"});
    EXPECT_EQ(bogus.exit_code, 2) << bogus.err;
    EXPECT_EQ(bogus.err,
              "sluice outbox: retry: --state must be dead, pending or delivered, got 'bogus'\n");

    auto refused = outbox({"retry", "--webhook", "orders", "--state", "delivered"});
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_EQ(refused.err,
              "sluice outbox: retry: --state delivered sends delivered messages again; pass "
              "--delivered too (nothing re-queued)\n");
    auto flag_alone = outbox({"retry", "--webhook", "orders", "--delivered"});
    EXPECT_EQ(flag_alone.exit_code, 2) << flag_alone.err;
    EXPECT_EQ(count("state = 'delivered'"), 2) << "nothing may be re-queued";

    auto resent = outbox({"retry", "--webhook", "orders", "--state", "delivered", "--delivered"});
    EXPECT_EQ(resent.exit_code, 0) << resent.err;
    EXPECT_EQ(resent.out, "re-queued 1 message (same webhook-id, attempts reset)\n");
    EXPECT_EQ(count("state = 'delivered'"), 1);
}

TEST_F(OutboxCommand, RetryTakesIdsOrAWebhookNotBoth) {
    auto r = outbox({"retry", std::to_string(dead_), "--webhook", "orders"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err,
              "sluice outbox: retry: give outbox ids or --webhook W [--state S], not both (ids "
              "name their messages)\n");
    EXPECT_EQ(count("state = 'dead'"), 1);
}

TEST_F(OutboxCommand, StatusAndListTakeNoArgumentsAndListAtLeastOneRow) {
    auto status = outbox({"status", "orders"});
    EXPECT_EQ(status.exit_code, 2) << status.err;
    EXPECT_EQ(status.err, "sluice outbox: status takes no arguments, got 'orders'\n");
    auto limit = outbox({"list", "--limit", "0"});
    EXPECT_EQ(limit.exit_code, 2) << limit.err;
    EXPECT_EQ(limit.err, "sluice outbox: --limit must be 1 or more, got 0\n");
}

TEST_F(OutboxCommand, StatusOfADatabaseWithoutMessagesSaysHowToListTheConfiguredWebhooks) {
    conn_.exec("DELETE FROM sluice.outbox");
    conn_.exec("DELETE FROM sluice.webhook_state");
    auto r = outbox({"status"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2u) << r.out;
    EXPECT_EQ(lines[1],
              "(no webhook has outbox messages in this database; --config FILE lists the "
              "configured ones)");
}

TEST_F(OutboxCommand, StatusWithoutAConfigShowsEveryWebhookTheDatabaseKnows) {
    auto r = outbox({"status"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 4u) << r.out;
    EXPECT_EQ(lines[1].rfind("audit ", 0), 0u) << r.out;
    EXPECT_EQ(lines[2].rfind("billing ", 0), 0u) << r.out;
    EXPECT_EQ(lines[3].rfind("orders ", 0), 0u) << r.out;
}

TEST_F(OutboxCommand, ListShowsNoNextAttemptForRowsThatWillNotBeAttemptedAgain) {
    enqueue("orders", append(agg, 4));  // pending
    auto table = outbox({"list"});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    auto lines = lines_of(table.out);
    ASSERT_EQ(lines.size(), 5u) << table.out;
    // ID WEBHOOK EVENT TYPE STATE ATTEMPTS NEXT-ATTEMPT [LAST ERROR]
    for (int i = 1; i <= 4; ++i) {
        std::istringstream row(lines[i]);
        std::vector<std::string> cells{std::istream_iterator<std::string>(row), {}};
        ASSERT_GE(cells.size(), 7u) << lines[i];
        if (cells[4] == "pending")
            EXPECT_EQ(cells[6].back(), 'Z') << lines[i];
        else
            EXPECT_EQ(cells[6], "-") << lines[i];
    }

    auto json = outbox({"list", "--json", "--state", "delivered"});
    EXPECT_EQ(json.exit_code, 0) << json.err;
    EXPECT_THAT(json.out, HasSubstr("\"next_attempt_at\":null"));
}

TEST_F(OutboxCommand, ListFiltersByEventTypeAndTimeAndShowOfAnUnknownIdExitsTwo) {
    enqueue("orders", append(agg, 4, "OrderShipped"));
    enqueue("billing", append(agg, 5, "OrderShipped"));
    auto of_type = outbox({"list", "--json", "--event-type", "OrderShipped"});
    EXPECT_EQ(of_type.exit_code, 0) << of_type.err;
    EXPECT_EQ(lines_of(of_type.out).size(), 2u) << of_type.out;
    EXPECT_THAT(of_type.out, HasSubstr("\"event_type\":\"OrderShipped\""));
    EXPECT_THAT(of_type.out, Not(HasSubstr("OrderCreated")));
    auto none = outbox({"list", "--json", "--event-type", "NoSuchType"});
    EXPECT_EQ(none.out, "");
    auto future = outbox({"list", "--json", "--since", "2999-01-01T00:00:00Z"});
    EXPECT_EQ(future.exit_code, 0) << future.err;
    EXPECT_EQ(future.out, "") << "nothing was enqueued after 2999";
    auto recent = outbox({"list", "--json", "--since", "1h"});
    EXPECT_EQ(lines_of(recent.out).size(), 5u) << recent.out;

    const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
        {{"show", "999999"}, "show: no outbox message with id 999999"},
        {{"show"}, "show: give one outbox id"},
        {{"list", "--since", "soon"},
         "--since 'soon' is neither a duration back from now (2h, 30min, 7d) nor a time "
         "(2026-12-03T14:00:00Z)"},
        {{"list", "--dry-run"}, "list does not take --dry-run"},
        {{"show", "1", "--since", "1h"}, "show does not take --since"},
        {{"replay", "orders"},
         "replay: --since is required (a duration back from now such as 2h, or a time)"},
        {{"replay", "nope", "--since", "1h"}, "no webhook named 'nope'"},
    };
    for (const auto& [args, message] : bad) {
        auto r = outbox(args);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_THAT(r.err, HasSubstr(message));
    }
}

}  // namespace
}  // namespace sluice::testing
