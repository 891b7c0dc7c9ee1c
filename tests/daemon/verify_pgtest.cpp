// `sluice verify` through the real binary beside the real `sluice run`: it passes on healthy
// subscribers (a plain projection, a partitioned one, one with a parked event, also once it was
// retried, a webhook with a filter:) with exactly the counts their filters give; it fails with exit
// 1 and the missing events' ids on a projection whose checkpoint was moved past events by hand, on
// one whose parked event was dropped, and on a webhook whose outbox row was deleted; a rebuild
// repairs the projection; an unknown name is a usage error.
#include <gmock/gmock.h>

#include <boost/json.hpp>

#include "daemon_fixture.hpp"
#include "tests/store/sluice_process.hpp"

namespace sluice::testing {
namespace {

namespace json = boost::json;

const std::string webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// A projection `name` recording every E event's id in `<name>_seen`.
std::string seen_projection(const std::string& name, const std::string& extra = "") {
    return "  - name: " + name + "\n" + extra + "    setup: CREATE TABLE IF NOT EXISTS " + name +
           "_seen (event_id bigint PRIMARY KEY)\n"
           "    reset: TRUNCATE " +
           name +
           "_seen\n"
           "    handlers:\n"
           "      E: INSERT INTO " +
           name + "_seen VALUES (:id)\n";
}

// A webhook of E events to a port nobody listens on: its messages stay queued, which is all
// verify looks at.
std::string webhook(const std::string& extra = "") {
    return "webhooks:\n"
           "  - name: w\n"
           "    url: http://127.0.0.1:9/hook\n"
           "    secrets: [" +
           webhook_secret +
           "]\n"
           "    event_types: [E]\n" +
           extra;
}

// A projection whose handler fails on n = "x" (parked after one retry); `fixed` takes it as -1.
std::string parking_projection(const std::string& name, bool fixed = false) {
    const std::string n =
        fixed ? "CASE :payload->>'n' WHEN 'x' THEN -1 ELSE (:payload->>'n')::int END"
              : "(:payload->>'n')::int";
    return "  - name: " + name + "\n    setup: CREATE TABLE IF NOT EXISTS " + name +
           "_n (event_id bigint PRIMARY KEY, n int)\n"
           "    handlers:\n"
           "      E: INSERT INTO " +
           name + "_n VALUES (:id, " + n +
           ")\n"
           "    on_error: {retries: 1, backoff: 100ms, then: park}\n";
}

class Verify : public DaemonTest {
  protected:
    ProcessResult verify(std::vector<std::string> args) {
        args.insert(args.begin(), "verify");
        args.insert(args.end(), {"--config", config_});
        return run_sluice(args);
    }

    // verify --json, parsed: the object of each subscriber by name.
    std::map<std::string, json::object> verify_json(const std::vector<std::string>& names,
                                                    int expected_exit) {
        std::vector<std::string> args = names;
        args.push_back("--json");
        auto r = verify(args);
        EXPECT_EQ(r.exit_code, expected_exit) << r.out << r.err;
        std::map<std::string, json::object> out;
        const json::value parsed = json::parse(r.out);
        for (const auto& v : parsed.as_array())
            out[std::string(v.at("name").as_string())] = v.as_object();
        return out;
    }

    std::string config_;
};

TEST_F(Verify, PassesOnHealthyProjectionsPartsParkedEventsAndAWebhookWithTheirExactCounts) {
    migrate();
    config_ = write_file("sluice.yaml", base_config() + "projections:\n" + seen_projection("p") +
                                            seen_projection("q", "    partitions: 3\n") +
                                            parking_projection("parking") +
                                            parking_projection("dropping") +
                                            webhook("    filter: \":payload->>'n' <> '3'\"\n"));
    auto daemon = DaemonProcess::start(config_);
    ASSERT_TRUE(
        wait_running(daemon, {"p", "q[1/3]", "q[2/3]", "q[3/3]", "parking", "dropping", "w"}));
    // 20 E events, one of them a poison for `parking` (n = "x"), and 5 of a type nobody handles.
    for (int i = 0; i < 20; ++i)
        insert_event("E", i == 7 ? R"({"n": "x"})" : "{\"n\": " + std::to_string(i) + "}");
    for (int i = 0; i < 5; ++i)
        insert_event("Other");
    const Position end = head();
    for (const std::string name : {"p", "q[1/3]", "q[2/3]", "q[3/3]", "parking", "dropping", "w"})
        ASSERT_TRUE(wait_checkpoint(name, end, 30s)) << name << "\n" << diagnose(daemon);

    // Beside the running daemon.
    auto r = verify({});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_THAT(r.out, ::testing::HasSubstr("p (projection): complete up to " +
                                            std::to_string(end.transaction_id) + "/" +
                                            std::to_string(end.id) +
                                            ": 20 events matching, 20 applied, 0 parked\n"));
    EXPECT_THAT(r.out, ::testing::HasSubstr("parking (projection): complete up to " +
                                            std::to_string(end.transaction_id) + "/" +
                                            std::to_string(end.id) +
                                            ": 20 events matching, 19 applied, 1 parked\n"));
    EXPECT_THAT(r.out, ::testing::HasSubstr("verified 7: complete\n"));

    auto verdicts = verify_json({}, 0);
    ASSERT_EQ(verdicts.size(), 7U) << r.out;
    std::int64_t in_parts = 0;
    for (const std::string part : {"q[1/3]", "q[2/3]", "q[3/3]"}) {
        const auto& v = verdicts.at(part);
        EXPECT_TRUE(v.at("complete").as_bool()) << json::serialize(v);
        EXPECT_EQ(v.at("matching").as_int64(), v.at("applied").as_int64()) << json::serialize(v);
        in_parts += v.at("matching").as_int64();
    }
    EXPECT_EQ(in_parts, 20) << "the parts' shares of the E events";
    EXPECT_EQ(scalar("SELECT count(*) FROM q_seen"), 20);
    // The dispatcher was given every E event; filter: left one without a message.
    const auto& w = verdicts.at("w");
    EXPECT_TRUE(w.at("complete").as_bool()) << json::serialize(w);
    EXPECT_EQ(w.at("applied").as_int64(), 20);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox WHERE webhook = 'w'"), 19);

    // A parked event applied by `sluice parked retry` counts as applied, in its transaction.
    const std::string fixed = write_file(
        "fixed.yaml", base_config() + "projections:\n" + parking_projection("parking", true));
    auto retried = run_sluice({"parked", "retry", "parking", "--all", "--config", fixed});
    ASSERT_EQ(retried.exit_code, 0) << retried.out << retried.err;
    auto after_retry = run_sluice({"verify", "parking", "--config", fixed});
    EXPECT_EQ(after_retry.exit_code, 0) << after_retry.out << after_retry.err;
    EXPECT_THAT(after_retry.out,
                ::testing::HasSubstr(": 20 events matching, 20 applied, 0 parked"));

    // A parked event dropped on purpose was never applied: verify says so, though the counter
    // cannot say which event it was, only the stretch it lies in.
    auto dropped = run_sluice({"parked", "drop", "dropping", "--all", "--config", config_});
    ASSERT_EQ(dropped.exit_code, 0) << dropped.out << dropped.err;
    auto after_drop = verify_json({"dropping"}, 1);
    const auto& missing = after_drop.at("dropping").at("missing").as_object();
    EXPECT_EQ(missing.at("count").as_int64(), 1);
    EXPECT_FALSE(missing.at("exact").as_bool());
    EXPECT_LE(missing.at("first_event_id").as_int64(), missing.at("last_event_id").as_int64());

    // A partitioned projection is rebuilt as a whole; each part counts from the hand-over on.
    auto rebuilt = run_sluice({"rebuild", "q", "--config", config_, "--yes"});
    ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.out << rebuilt.err;
    auto after_rebuild = verify({"q"});
    EXPECT_EQ(after_rebuild.exit_code, 0) << after_rebuild.out << after_rebuild.err;
    EXPECT_THAT(
        after_rebuild.out,
        ::testing::HasSubstr("q[2/3] (projection): complete up to " +
                             std::to_string(end.transaction_id) + "/" + std::to_string(end.id) +
                             ": 0 events matching, 0 applied, 0 "
                             "parked; the counter starts at " +
                             std::to_string(end.transaction_id) + "/" + std::to_string(end.id) +
                             ", verified from there\n"));
    EXPECT_EQ(scalar("SELECT count(*) FROM q_seen"), 20);
    EXPECT_EQ(daemon.terminate().code, 0) << daemon.output_tail();
}

// The checkpoint is moved by hand with the daemon stopped, as an operator skipping events would:
// UPDATE sluice.checkpoints SET transaction_id, event_id to the last of four new events, which
// thus never reach the projection.
TEST_F(Verify, FailsWithTheSkippedRangeWhenACheckpointWasMovedPastEventsByHand) {
    migrate();
    config_ = write_file("sluice.yaml", base_config() + "projections:\n" + seen_projection("p"));
    {
        auto daemon = DaemonProcess::start(config_);
        ASSERT_TRUE(wait_running(daemon, {"p"}));
        for (int i = 0; i < 3; ++i)
            insert_event("E");
        ASSERT_TRUE(wait_checkpoint("p", head(), 20s)) << diagnose(daemon);
        ASSERT_EQ(daemon.terminate().code, 0) << daemon.output_tail();
    }
    std::vector<Position> skipped;
    for (int i = 0; i < 4; ++i)
        skipped.push_back(insert_event("E"));
    conn().exec(
        "UPDATE sluice.checkpoints SET transaction_id = $1::xid8, event_id = $2 WHERE name = 'p'",
        pg::Params(std::to_string(skipped.back().transaction_id), skipped.back().id));
    const std::string range = "missing 4 events, neither applied nor parked: first " +
                              std::to_string(skipped.front().id) + ", last " +
                              std::to_string(skipped.back().id) + " (commit order";

    auto stopped = verify({"p"});
    EXPECT_EQ(stopped.exit_code, 1) << stopped.out << stopped.err;
    EXPECT_THAT(stopped.out, ::testing::HasSubstr("p (projection): INCOMPLETE"));
    EXPECT_THAT(stopped.out, ::testing::HasSubstr(range)) << stopped.out;

    // The daemon goes on from the moved checkpoint; the skipped stretch stays known.
    auto daemon = DaemonProcess::start(config_);
    ASSERT_TRUE(wait_running(daemon, {"p"}));
    Position later = insert_event("E");
    ASSERT_TRUE(wait_checkpoint("p", later, 20s)) << diagnose(daemon);
    auto running = verify({"p"});
    EXPECT_EQ(running.exit_code, 1) << running.out << running.err;
    EXPECT_THAT(running.out, ::testing::HasSubstr(range)) << running.out;
    auto v = verify_json({"p"}, 1).at("p");
    EXPECT_EQ(v.at("matching").as_int64(), 8);
    EXPECT_EQ(v.at("applied").as_int64(), 4);
    EXPECT_TRUE(v.at("missing").at("exact").as_bool());
    EXPECT_EQ(scalar("SELECT count(*) FROM p_seen"), 4);

    // The repair: a rebuild, beside the running daemon, applies every event and counts afresh.
    auto rebuilt = run_sluice({"rebuild", "p", "--config", config_, "--yes"});
    ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.out << rebuilt.err;
    auto repaired = verify({"p"});
    EXPECT_EQ(repaired.exit_code, 0) << repaired.out << repaired.err;
    EXPECT_THAT(repaired.out, ::testing::HasSubstr(": 8 events matching, 8 applied, 0 parked\n"));
    EXPECT_EQ(scalar("SELECT count(*) FROM p_seen"), 8);
    EXPECT_EQ(daemon.terminate().code, 0) << daemon.output_tail();
}

TEST_F(Verify, FailsOnAWebhookWhoseOutboxRowWasDeletedByHand) {
    migrate();
    config_ = write_file("sluice.yaml", base_config() + webhook());
    auto daemon = DaemonProcess::start(config_);
    ASSERT_TRUE(wait_running(daemon, {"w"}));
    std::vector<Position> events;
    for (int i = 0; i < 5; ++i)
        events.push_back(insert_event("E"));
    ASSERT_TRUE(wait_checkpoint("w", events.back(), 20s)) << diagnose(daemon);
    auto healthy = verify({"w"});
    EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;

    const std::int64_t lost = events[2].id;
    conn().exec("DELETE FROM sluice.outbox WHERE webhook = 'w' AND event_id = $1",
                pg::Params(lost));
    auto r = verify({"w"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_THAT(r.out, ::testing::HasSubstr("w (webhook): INCOMPLETE"));
    EXPECT_THAT(r.out,
                ::testing::HasSubstr("1 event matching but without an outbox row: first " +
                                     std::to_string(lost) + ", last " + std::to_string(lost)))
        << r.out;
    auto v = verify_json({"w"}, 1).at("w");
    EXPECT_EQ(v.at("without_outbox").at("count").as_int64(), 1);
    EXPECT_TRUE(v.at("missing").is_null()) << "the dispatcher was given it: the counter agrees";

    // The repair docs/operations.md gives: with the daemon stopped, the checkpoint (and its
    // counter) just before the first missing event; the enqueue adds only the missing row.
    ASSERT_EQ(daemon.terminate().code, 0) << daemon.output_tail();
    conn().exec(
        "SELECT sluice.reset_checkpoint('w', transaction_id, id - 1) FROM events "
        "WHERE id = $1",
        pg::Params(lost));
    auto restarted = DaemonProcess::start(config_);
    ASSERT_TRUE(wait_checkpoint("w", events.back(), 20s)) << diagnose(restarted);
    auto repaired = verify({"w"});
    EXPECT_EQ(repaired.exit_code, 0) << repaired.out << repaired.err;
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox WHERE webhook = 'w'"), 5);
    EXPECT_EQ(restarted.terminate().code, 0) << restarted.output_tail();
}

// Matching goes through the upcasters as the daemon's does: a Credited event is renamed to the
// Deposited both consumers take, and the webhook's filter: sees the upcast payload (an old
// {"cents": 100} is {"amount": 1} and filtered out; read as stored it would pass the filter and
// be reported without an outbox row).
TEST_F(Verify, MatchesThroughTheUpcastersRenamesAndTheWebhooksFilterOnTheUpcastEvent) {
    migrate();
    const std::string upcasters =
        "upcasters:\n"
        "  - event_type: Credited\n"
        "    rename_to: Deposited\n"
        "  - event_type: Deposited\n"
        "    when: :payload ? 'cents'\n"
        "    payload: jsonb_build_object('amount', (:payload->>'cents')::int / 100)\n";
    config_ = write_file(
        "sluice.yaml",
        base_config() + upcasters +
            "projections:\n"
            "  - name: balance\n"
            "    setup: CREATE TABLE IF NOT EXISTS deposits (event_id bigint PRIMARY KEY, n int)\n"
            "    handlers:\n"
            "      Deposited: INSERT INTO deposits VALUES (:id, (:payload->>'amount')::int)\n" +
            "webhooks:\n"
            "  - name: hook\n"
            "    url: http://127.0.0.1:9/hook\n"
            "    secrets: [" +
            webhook_secret +
            "]\n"
            "    event_types: [Deposited]\n"
            "    filter: coalesce((:payload->>'amount')::int, 0) <> 1\n");
    auto daemon = DaemonProcess::start(config_);
    ASSERT_TRUE(wait_running(daemon, {"balance", "hook"}));
    const Position credited = insert_event("Credited", R"({"cents": 700})");
    insert_event("Deposited", R"({"amount": 5})");
    insert_event("Deposited", R"({"cents": 100})");
    insert_event("Withdrawn", R"({"amount": 2})");
    const Position end = head();
    ASSERT_TRUE(wait_checkpoint("balance", end, 20s)) << diagnose(daemon);
    ASSERT_TRUE(wait_checkpoint("hook", end, 20s)) << diagnose(daemon);
    ASSERT_EQ(scalar("SELECT count(*) FROM sluice.outbox WHERE webhook = 'hook'"), 2);

    auto verdicts = verify_json({}, 0);
    EXPECT_EQ(verdicts.at("balance").at("matching").as_int64(), 3);
    EXPECT_EQ(verdicts.at("balance").at("applied").as_int64(), 3);
    EXPECT_EQ(verdicts.at("hook").at("matching").as_int64(), 3);
    EXPECT_TRUE(verdicts.at("hook").at("complete").as_bool())
        << json::serialize(verdicts.at("hook"));

    conn().exec("DELETE FROM sluice.outbox WHERE webhook = 'hook' AND event_id = $1",
                pg::Params(credited.id));
    auto r = verify({"hook"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_THAT(r.out, ::testing::HasSubstr("1 event matching but without an outbox row: first " +
                                            std::to_string(credited.id) + ", last " +
                                            std::to_string(credited.id)))
        << r.out;
    EXPECT_EQ(scalar("SELECT count(*) FROM pg_proc WHERE proname = 'sluice_upcast'"), 0)
        << "verify's upcast function lived in its own session only";
    EXPECT_EQ(daemon.terminate().code, 0) << daemon.output_tail();
}

TEST_F(Verify, AnUnknownNameIsAUsageErrorThatListsTheProjectionsAndWebhooks) {
    migrate();
    config_ = write_file("sluice.yaml",
                         base_config() + "projections:\n" + seen_projection("p") + webhook());
    auto r = verify({"nosuch"});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(r.err, "sluice verify: no projection or webhook named 'nosuch' in " + config_ +
                         " (projections: p; webhooks: w)\n");
    EXPECT_EQ(r.out, "");
    // Before the daemon ever ran: nothing to verify, and nothing is missing.
    auto fresh = verify({});
    EXPECT_EQ(fresh.exit_code, 0) << fresh.out << fresh.err;
    EXPECT_THAT(fresh.out, ::testing::HasSubstr("p (projection): not started"));
}

}  // namespace
}  // namespace sluice::testing
