// Batched delivery (`batch:`) through `sluice run` against a real receiver: per-aggregate order
// within and across batches while the receiver fails at random and the daemon is killed -9
// mid-run, every message at least once, a retried batch is the same request (webhook-id and
// members), the signature covers the whole array, bodies match the shipped schema, max_wait
// bounds how long a lone message waits, replay re-sends batched messages under their own ids
// (each request one attempt row that `outbox show` finds by any member), a
// batch handed back unsent keeps its id, and two instances never form one message into two
// batches.
#include <csignal>
#include <map>
#include <random>
#include <set>

#include "infra/pg/literal.hpp"
#include "webhook_fixture.hpp"

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;

class WebhookBatch : public WebhookTest {
  protected:
    // Each event's own webhook-id, msg_<webhook>_<id>.
    std::set<std::string> every_message_id(const std::string& webhook) {
        auto events = conn().exec("SELECT id FROM events");
        std::set<std::string> ids;
        for (int i = 0; i < events.rows(); ++i)
            ids.insert("msg_" + webhook + "_" + std::to_string(events.int64(i, 0)));
        return ids;
    }
};

constexpr int aggregates = 60;
constexpr int versions = 8;
constexpr std::int64_t total = aggregates * versions;

TEST_F(WebhookBatch, OrderHoldsAcrossBatchesUnderRandomFailuresAndAKillNineAndRetriesAreTheSame) {
    HttpReceiver receiver({.secrets = {secret_a}});
    // Answers in arrival order from this script (~30% 500s); the receiver serves on one thread,
    // so requests() lists requests in the order their reactions were taken.
    std::mt19937 rng(std::random_device{}());
    std::bernoulli_distribution fails(0.3);
    std::vector<bool> failed;
    for (int i = 0; i < 4000; ++i) {
        failed.push_back(fails(rng));
        receiver.script(Reaction{.status = failed.back() ? 500 : 200, .delay = 3ms});
    }
    write_config({webhook_yaml("hook", receiver.url(),
                               "    batch: {max_events: 7, max_wait: 20ms}\n"
                               "    max_in_flight: 4\n"
                               "    retry: {schedule: [20ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, "
                               "50ms, 50ms, 50ms, 50ms, 50ms], jitter: 0%}\n")});
    append_many(aggregates, versions);

    auto daemon = DaemonProcess::start(config_path_);
    ASSERT_TRUE(receiver.wait_for_requests(40, 60s)) << diagnose(daemon);
    daemon.kill(SIGKILL);
    auto exit = daemon.wait_exit(10s);
    ASSERT_TRUE(exit && exit->signal == SIGKILL);
    ASSERT_LT(outbox_rows("hook", "delivered"), total)
        << "the kill landed after everything was delivered; the test proves less than it claims";
    ASSERT_GT(scalar("SELECT (SELECT count(*) FROM sluice.outbox_batches WHERE webhook = "
                     "'hook') + (SELECT count(*) FROM sluice.outbox WHERE webhook = 'hook' AND "
                     "state = 'pending' AND batch_id IS NOT NULL AND next_attempt_at > now())"),
              0)
        << "no batch was in flight or waiting for a retry at the kill";
    // The batches in flight at the kill (claimed, not recorded).
    const auto in_flight =
        conn().exec("SELECT id FROM sluice.outbox_batches WHERE webhook = 'hook' ORDER BY id");

    // Batches leased by the killed daemon are due again after their lease (2 x 2 s + 5 s).
    auto restarted = DaemonProcess::start(config_path_);
    ASSERT_TRUE(wait_outbox_rows("hook", "delivered", total, 90s)) << diagnose(restarted);
    EXPECT_EQ(outbox_rows("hook", "dead"), 0);
    // A batch in flight at the kill went out again under its own id with its members: they
    // name it once delivered. Nothing is left in flight.
    for (int i = 0; i < in_flight.rows(); ++i) {
        const auto id = in_flight.int64(i, 0);
        EXPECT_GT(scalar("SELECT count(*) FROM sluice.outbox WHERE batch_id = $1", pg::Params(id)),
                  0)
            << "batch " << id << " was in flight at the kill and lost its members";
    }
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox_batches"), 0);

    const auto requests = receiver.requests();
    ASSERT_LE(requests.size(), failed.size()) << "script too short for this run";
    std::map<std::string, std::vector<std::string>> members_of;  // batch webhook-id -> ids
    std::map<std::string, std::string> body_of;
    std::map<std::string, int> sends_of;
    // (aggregate, version) pairs answered 2xx so far, in arrival order.
    std::set<std::pair<std::string, std::int64_t>> delivered;
    std::set<std::string> delivered_ids;
    std::size_t failures = 0;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const auto& request = requests[i];
        ASSERT_EQ(request.webhook_id.rfind("batch_hook_", 0), 0u) << request.webhook_id;
        EXPECT_TRUE(request.signature_valid) << request.webhook_id;
        EXPECT_EQ(request.header("traceparent"), std::nullopt);
        const auto messages = parse_batch(request);
        ASSERT_FALSE(messages.empty());
        EXPECT_LE(messages.size(), 7u) << request.webhook_id;
        std::vector<std::string> ids;
        std::set<std::string> aggregates_in_batch;
        for (const auto& m : messages) {
            ids.push_back(m.webhook_id);
            EXPECT_EQ(m.webhook_id, "msg_hook_" + std::to_string(m.event_id));
            EXPECT_TRUE(aggregates_in_batch.insert(m.aggregate_id).second)
                << request.webhook_id << " holds two messages of aggregate " << m.aggregate_id;
            // Sent only after its predecessor was delivered, by whichever request carried it.
            if (m.version > 1) {
                EXPECT_TRUE(delivered.contains({m.aggregate_id, m.version - 1}))
                    << m.webhook_id << " (version " << m.version << ") was sent in "
                    << request.webhook_id << " before version " << m.version - 1
                    << " of its aggregate was delivered";
            }
        }
        // A batch sent again is the same request: same members in the same order, same body.
        auto [known, first] = members_of.try_emplace(request.webhook_id, ids);
        if (!first) {
            EXPECT_EQ(known->second, ids) << request.webhook_id << " changed its members";
            EXPECT_EQ(body_of[request.webhook_id], request.body) << request.webhook_id;
        }
        body_of.try_emplace(request.webhook_id, request.body);
        ++sends_of[request.webhook_id];
        if (failed[i]) {
            ++failures;
            continue;
        }
        for (const auto& m : messages) {
            delivered.emplace(m.aggregate_id, m.version);
            delivered_ids.insert(m.webhook_id);
        }
    }
    EXPECT_EQ(delivered_ids, every_message_id("hook")) << "every message arrives at least once";
    // ~30% on average; at least a tenth (a fifth failed 2% of runs: ~90 requests vary widely).
    EXPECT_GE(failures * 10, requests.size()) << "the receiver should have failed ~30%";
    int retried = 0;
    for (const auto& [id, sends] : sends_of)
        retried += sends > 1 ? 1 : 0;
    EXPECT_GT(retried, 0) << "no batch was sent twice; nothing checked the retries";
    std::cout << "[ info ] " << requests.size() << " requests (" << failures << " failed) in "
              << members_of.size() << " batches for " << total << " messages; " << retried
              << " batches sent more than once\n";

    // Each message row names its batch, and `outbox show` says which request carried it.
    const auto row = conn().exec(
        "SELECT id, batch_id FROM sluice.outbox WHERE webhook = 'hook' ORDER BY id LIMIT 1");
    ASSERT_FALSE(row.is_null(0, 1));
    const std::string batch_id = "batch_hook_" + std::to_string(row.int64(0, 1));
    EXPECT_TRUE(members_of.contains(batch_id)) << batch_id;
    const auto shown = outbox_cli({"show", std::to_string(row.int64(0, 0))});
    EXPECT_NE(shown.find("in batch " + batch_id), std::string::npos) << shown;
}

TEST_F(WebhookBatch, ABatchClaimedButNotSentAtAStopGoesOutLaterUnderItsOwnId) {
    HttpReceiver receiver({.secrets = {secret_a}});
    // One request at a time, each answered slowly: batches wait claimed behind it.
    receiver.set_default(Reaction{.status = 200, .delay = 400ms});
    write_config({webhook_yaml("hook", receiver.url(),
                               "    batch: {max_events: 5, max_wait: 20ms}\n"
                               "    max_in_flight: 1\n")});
    append_many(40, 1);

    auto daemon = DaemonProcess::start(config_path_);
    ASSERT_TRUE(receiver.wait_for_requests(1, 20s)) << diagnose(daemon);
    ASSERT_TRUE(
        wait_until([&] { return scalar("SELECT count(*) FROM sluice.outbox_batches") >= 2; }, 10s))
        << "no batch waited claimed behind the one in flight\n"
        << diagnose(daemon);
    EXPECT_EQ(daemon.terminate(10s).code, 0) << daemon.output_tail();

    // Handed back at the stop: still formed (same id, same members), due at once.
    const auto waiting = conn().exec(
        "SELECT id, members::text FROM sluice.outbox_batches WHERE leased_until <= now() "
        "ORDER BY id");
    ASSERT_GT(waiting.rows(), 0) << "no batch was handed back unsent";
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox_batches WHERE leased_until > now()"), 0);
    const auto sent_before = receiver.count();

    receiver.set_default(Reaction{.status = 200});
    auto restarted = DaemonProcess::start(config_path_);
    ASSERT_TRUE(wait_outbox_rows("hook", "delivered", 40, 30s)) << diagnose(restarted);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox_batches"), 0);
    std::map<std::string, std::vector<std::string>> sent;  // batch webhook-id -> member ids
    for (const auto& request : receiver.requests()) {
        for (const auto& m : parse_batch(request))
            sent[request.webhook_id].push_back(std::to_string(m.event_id));
    }
    for (int i = 0; i < waiting.rows(); ++i) {
        const auto id = "batch_hook_" + std::to_string(waiting.int64(i, 0));
        ASSERT_TRUE(sent.contains(id)) << id << " was handed back and never sent under its id";
        // Every member it was formed with went out in it and names it.
        EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox o JOIN unnest($1::bigint[]) m(id) "
                         "USING (id) WHERE o.batch_id = $2",
                         pg::Params(std::string(waiting.text(i, 1)), waiting.int64(i, 0))),
                  static_cast<std::int64_t>(sent[id].size()))
            << id << " went out with other members than it was formed with";
    }
    EXPECT_GT(receiver.count(), sent_before);
}

TEST_F(WebhookBatch, TwoInstancesDeliveringOneWebhookFormEachMessageIntoOneBatchInOrder) {
    HttpReceiver receiver({.secrets = {secret_a}});
    receiver.set_default(Reaction{.status = 200, .delay = 30ms});
    write_config({webhook_yaml("hook", receiver.url(),
                               "    batch: {max_events: 5, max_wait: 20ms}\n"
                               "    max_in_flight: 2\n")});
    append_many(aggregates, versions);

    // Both deliver (publishers run on every instance); their claims take turns.
    auto a = DaemonProcess::start(config_path_);
    auto b = DaemonProcess::start(config_path_);
    ASSERT_TRUE(wait_outbox_rows("hook", "delivered", total, 60s)) << diagnose(a) << diagnose(b);
    EXPECT_TRUE(a.running() && b.running());
    for (auto* daemon : {&a, &b}) {
        EXPECT_GT(
            metric(*daemon, "sluice_outbox_attempts_total", "hook", ",outcome=\"2xx\"").value_or(0),
            0)
            << "an instance sent nothing; the claims did not overlap";
    }

    std::map<std::string, std::string> batch_of;  // message webhook-id -> batch webhook-id
    std::set<std::pair<std::string, std::int64_t>> delivered;
    for (const auto& request : receiver.requests()) {
        for (const auto& m : parse_batch(request)) {
            auto [known, first] = batch_of.try_emplace(m.webhook_id, request.webhook_id);
            EXPECT_TRUE(first || known->second == request.webhook_id)
                << m.webhook_id << " was formed into " << known->second << " and "
                << request.webhook_id;
            if (m.version > 1) {
                EXPECT_TRUE(delivered.contains({m.aggregate_id, m.version - 1}))
                    << m.webhook_id << " overtook version " << m.version - 1;
            }
            delivered.emplace(m.aggregate_id, m.version);
        }
    }
    EXPECT_EQ(batch_of.size(), static_cast<std::size_t>(total));
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox_batches"), 0);
}

TEST_F(WebhookBatch, BodiesMatchTheShippedSchemaAndTheSignatureCoversTheWholeArray) {
    HttpReceiver receiver({.secrets = {secret_a}});
    HttpReceiver other_secret({.secrets = {secret_b}});
    write_config({webhook_yaml("hook", receiver.url(), "    batch: {max_events: 50}\n"),
                  webhook_yaml("wrong", other_secret.url(), "    batch: {max_events: 50}\n")});
    append_many(10, 2);
    auto daemon = DaemonProcess::start(config_path_);
    ASSERT_TRUE(wait_outbox_rows("hook", "delivered", 20, 20s)) << diagnose(daemon);
    ASSERT_TRUE(other_secret.wait_for_requests(1, 20s)) << diagnose(daemon);

    std::vector<std::string> argv = {"/usr/bin/python3",
                                     source_dir() + "/tests/daemon/webhooks/check_envelope.py",
                                     source_dir() + "/docs/webhook-envelope.schema.json"};
    std::size_t messages = 0;
    for (const auto& request : receiver.requests()) {
        EXPECT_TRUE(request.signature_valid) << request.webhook_id;
        messages += parse_batch(request).size();
        argv.push_back(write_file(request.webhook_id + ".json", request.body));
    }
    EXPECT_EQ(messages, 20u);
    // Every version 1 is due at once: the first request carries ten, one per aggregate.
    EXPECT_EQ(parse_batch(receiver.requests().front()).size(), 10u);
    // The signature is over the whole body: a receiver with another secret refuses it.
    EXPECT_FALSE(other_secret.requests().front().signature_valid);

    // The checker bites: an element without its id fails it.
    argv.push_back(write_file("no_id.json", R"([{"type":"X","timestamp":)"
                                            R"("2024-01-01T00:00:00.000000Z","schema":1,)"
                                            R"("data":{"id":1,"aggregate_id":)"
                                            R"("6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77",)"
                                            R"("aggregate_type":"O","version":1,"payload":{},)"
                                            R"("metadata":null}}])"));
    auto check = DaemonProcess::spawn_program(argv);
    auto exit = check.wait_exit(30s);
    ASSERT_TRUE(exit) << check.output_tail();
    EXPECT_EQ(exit->code, 1) << check.output();
    EXPECT_EQ(check.output(), argv.back() + ": 0: 'id' is a required property\n");
}

TEST_F(WebhookBatch, AFullBatchGoesAtOnceAndALoneMessageWaitsMaxWaitNotThePollInterval) {
    HttpReceiver receiver({.secrets = {secret_a}});
    // A long poll interval: only the batch's own wake-up can send the lone message in time.
    config_path_ = write_file(
        "sluice.yaml",
        base_config({.poll_interval = "30s"}) + "webhooks:\n" +
            webhook_yaml("hook", receiver.url(), "    batch: {max_events: 5, max_wait: 3s}\n"));
    auto daemon = DaemonProcess::start(config_path_);
    ASSERT_TRUE(wait_until(
        [&] {
            return scalar(
                       "SELECT count(*) FROM sluice.checkpoints WHERE "
                       "name = 'hook'") == 1;
        },
        20s))
        << diagnose(daemon);

    const auto full_at = Clock::now();
    append_many(5, 1);
    ASSERT_TRUE(receiver.wait_for_requests(1, 10s)) << diagnose(daemon);
    const auto full = receiver.requests().front();
    EXPECT_EQ(parse_batch(full).size(), 5u);
    EXPECT_LT(full.received_at - full_at, 2s) << "a full batch waited for max_wait";

    const auto lone_at = Clock::now();
    append_aggregate(1);
    ASSERT_TRUE(receiver.wait_for_requests(2, 15s)) << diagnose(daemon);
    const auto lone = receiver.requests().back();
    EXPECT_EQ(parse_batch(lone).size(), 1u);
    const auto waited = lone.received_at - lone_at;
    EXPECT_GE(waited, 2900ms) << "a lone message went before max_wait";
    EXPECT_LT(waited, 6s) << "a lone message waited far longer than max_wait";
    EXPECT_EQ(receiver.count(), 2u);
}

TEST_F(WebhookBatch, ReplayResendsBatchedMessagesUnderTheirOwnIdsInANewBatch) {
    HttpReceiver receiver({.secrets = {secret_a}});
    write_config({webhook_yaml("hook", receiver.url(), "    batch: {max_events: 10}\n")});
    append_many(3, 1);
    auto daemon = DaemonProcess::start(config_path_);
    ASSERT_TRUE(wait_outbox_rows("hook", "delivered", 3, 20s)) << diagnose(daemon);
    ASSERT_EQ(receiver.count(), 1u);
    const auto original = receiver.requests().front();
    std::map<std::string, std::string> id_to_type;
    for (const auto& m : parse_batch(original))
        id_to_type[m.webhook_id] = m.type;

    (void)outbox_cli({"replay", "hook", "--since", "2000-01-01T00:00:00Z"});
    ASSERT_TRUE(receiver.wait_for_requests(2, 20s)) << diagnose(daemon);
    ASSERT_TRUE(wait_outbox_rows("hook", "delivered", 3, 20s)) << diagnose(daemon);
    const auto replayed = receiver.requests().back();
    EXPECT_NE(replayed.webhook_id, original.webhook_id)
        << "a replay forms a new batch (its members may differ from the original's)";
    std::map<std::string, std::string> replayed_ids;
    for (const auto& m : parse_batch(replayed))
        replayed_ids[m.webhook_id] = m.type;
    EXPECT_EQ(replayed_ids, id_to_type) << "each message keeps its own id";
    EXPECT_TRUE(replayed.signature_valid);

    // One attempt row per request, naming its members; `outbox show` of a member lists both.
    ASSERT_TRUE(
        wait_until([&] { return scalar("SELECT count(*) FROM sluice.outbox_attempts") == 2; }, 10s))
        << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox_attempts "
                     "WHERE outbox_id IS NULL AND cardinality(members) = 3"),
              2);
    const auto last = scalar("SELECT max(id) FROM sluice.outbox");
    const auto shown = outbox_cli({"show", std::to_string(last)});
    EXPECT_NE(shown.find("1 since last queued, 2 recorded"), std::string::npos) << shown;
}

}  // namespace
}  // namespace sluice::testing
