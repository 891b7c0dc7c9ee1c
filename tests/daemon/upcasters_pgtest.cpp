// Upcasters through `sluice run` and the commands: a renamed type reaches the handlers and the
// webhook filter:/body: of its new name; an upcaster that fails for one event is that event's
// error, parked per on_error with a message naming the upcaster and the event id, while every
// other event is applied; `sluice events --config` shows the events as the upcasters make them;
// check-config --connect rejects a when: that is not boolean at its place in the file; a
// projection built through other upcasters waits for `sluice rebuild`, which replays it through
// the new ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>

#include "daemon_fixture.hpp"
#include "store/event_writer.hpp"

namespace sluice::testing {
namespace {

const std::string aggregate = "6c1f1f8e-2b51-4d8c-9a55-0d7f9f0e0001";

// Credited is the old name of Deposited; an old Deposited carries `cents`, and the divisor
// `d` lets one event fail (d = 0).
const std::string upcasters = R"(upcasters:
  - event_type: Credited
    rename_to: Deposited
  - event_type: Deposited
    when: :payload ? 'cents'
    payload: jsonb_build_object('amount', (:payload->>'cents')::int / (:payload->>'d')::int)
)";

const std::string consumers = R"(projections:
  - name: balance
    setup: CREATE TABLE IF NOT EXISTS deposits (event_id bigint PRIMARY KEY, amount int NOT NULL)
    reset: TRUNCATE deposits
    handlers:
      Deposited: INSERT INTO deposits VALUES (:id, (:payload->>'amount')::int)
    on_error: {retries: 1, backoff: 10ms, then: park}
webhooks:
  - name: hook
    url: http://127.0.0.1:9/unused
    secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]
    event_types: [Deposited]
    filter: (:payload->>'amount')::int > 1
    body: jsonb_build_object('type', :event_type, 'amount', :payload->'amount')
    on_error: {retries: 0, backoff: 10ms, then: park}
  - name: raw
    url: http://127.0.0.1:9/unused
    secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]
    event_types: [Deposited]
    on_error: {retries: 0, backoff: 10ms, then: park}
)";

class Upcasters : public DaemonTest {
  protected:
    // Credited 700/7, Deposited 300/0 (fails), Deposited {"amount": 5}, Deposited 100/100,
    // Withdrawn: ids in that order.
    std::vector<std::int64_t> write_events() {
        store::EventWriter writer(conn());
        writer.append(aggregate, "Account", 0,
                      {{"Credited", R"({"cents": 700, "d": 7})"},
                       {"Deposited", R"({"cents": 300, "d": 0})"},
                       {"Deposited", R"({"amount": 5})"},
                       {"Deposited", R"({"cents": 100, "d": 100})"},
                       {"Withdrawn", R"({"amount": 1})"}});
        auto r = conn().exec("SELECT id FROM events ORDER BY version");
        std::vector<std::int64_t> ids;
        for (int i = 0; i < r.rows(); ++i)
            ids.push_back(r.int64(i, 0));
        return ids;
    }
};

TEST_F(Upcasters, ARenamedTypeReachesItsNewNameAndAFailingUpcasterParksOnlyItsEvent) {
    migrate();
    const auto ids = write_events();
    auto daemon =
        DaemonProcess::start(write_file("sluice.yaml", base_config() + upcasters + consumers));
    ASSERT_TRUE(wait_checkpoint("balance", head(), 30s)) << diagnose(daemon);
    ASSERT_TRUE(wait_checkpoint("hook", head(), 30s)) << diagnose(daemon);
    ASSERT_TRUE(wait_checkpoint("raw", head(), 30s)) << diagnose(daemon);

    // The renamed Credited (upcast to 100), the new-shape 5 and the upcast 1; not the failing one.
    EXPECT_EQ(differences("SELECT event_id, amount FROM deposits",
                          "VALUES (" + std::to_string(ids[0]) + "::bigint, 100), (" +
                              std::to_string(ids[2]) + ", 5), (" + std::to_string(ids[3]) + ", 1)"),
              0);
    for (const std::string subscriber : {"balance", "hook"}) {
        auto parked = conn().exec(
            "SELECT event_id, error, sqlstate FROM sluice.parked_events WHERE subscriber = $1",
            pg::Params(subscriber));
        ASSERT_EQ(parked.rows(), 1) << subscriber;
        EXPECT_EQ(parked.int64(0, 0), ids[1]) << subscriber;
        const std::string error(parked.text(0, 1));
        EXPECT_NE(error.find("upcaster 2 (Deposited) at "), std::string::npos) << error;
        EXPECT_NE(error.find("sluice.yaml:"), std::string::npos) << error;
        EXPECT_NE(error.find("failed for event " + std::to_string(ids[1]) + ": division by zero"),
                  std::string::npos)
            << error;
        EXPECT_EQ(parked.text(0, 2), "22012") << subscriber;
    }
    // The webhook's event_types, filter: and body: see the upcast events: amount > 1 leaves the
    // renamed Credited (100) and the new-shape 5.
    EXPECT_EQ(
        differences("SELECT event_id, data FROM sluice.outbox WHERE webhook = 'hook'",
                    "VALUES (" + std::to_string(ids[0]) +
                        "::bigint, '{\"type\": \"Deposited\", \"amount\": 100}'::jsonb), (" +
                        std::to_string(ids[2]) + ", '{\"type\": \"Deposited\", \"amount\": 5}')"),
        0);
    // Without body:, a message carries the event as the upcasters make it: the type and the
    // envelope's data the sender reads (the upcast ones stored with the message, the others
    // built from the stored event).
    EXPECT_EQ(
        differences(
            "SELECT o.event_id, coalesce(o.event_type, e.event_type), "
            "coalesce(o.data, jsonb_build_object('id', e.id, 'aggregate_id', e.aggregate_id, "
            "'aggregate_type', e.aggregate_type, 'version', e.version, 'payload', e.payload, "
            "'metadata', e.metadata)) - 'metadata' FROM sluice.outbox o JOIN events e ON e.id = "
            "o.event_id WHERE o.webhook = 'raw'",
            "SELECT e.id, 'Deposited', jsonb_build_object('id', e.id, 'aggregate_id', "
            "e.aggregate_id, 'aggregate_type', 'Account', 'version', e.version, 'payload', "
            "v.payload::jsonb) FROM events e JOIN (VALUES (" +
                std::to_string(ids[0]) + "::bigint, '{\"amount\": 100}'), (" +
                std::to_string(ids[2]) + ", '{\"amount\": 5}'), (" + std::to_string(ids[3]) +
                ", '{\"amount\": 1}')) v(id, payload) ON v.id = e.id"),
        0);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox WHERE webhook = 'raw' AND event_id = " +
                     std::to_string(ids[2]) + " AND data IS NULL AND event_type IS NULL"),
              1)
        << "an event no upcaster changed is built from the stored event at delivery";
    // The stored events are as written.
    EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE event_type = 'Credited' AND payload ? "
                     "'cents'"),
              1);
}

TEST_F(Upcasters, EventsWithAConfigShowsTheEventsAsTheUpcastersMakeThem) {
    migrate();
    write_events();
    const auto path = write_file("sluice.yaml", base_config() + upcasters + consumers);
    auto stored = run_command(
        {sluice_binary(), "events", "--database-url", url(), "--aggregate-id", aggregate, "--json"},
        30s);
    ASSERT_TRUE(stored.status.is_exit(0)) << stored.output;
    EXPECT_NE(stored.output.find(R"("event_type":"Credited","payload":{"d": 7, "cents": 700})"),
              std::string::npos)
        << stored.output;
    // The failing event fails the command, naming the upcaster and the event.
    auto failing = run_command(
        {sluice_binary(), "events", "--config", path, "--aggregate-id", aggregate, "--json"}, 30s);
    EXPECT_TRUE(failing.status.is_exit(1)) << failing.output;
    EXPECT_NE(failing.output.find("upcaster 2 (Deposited)"), std::string::npos) << failing.output;
    conn().exec("DELETE FROM events WHERE version > 1");
    auto upcast = run_command(
        {sluice_binary(), "events", "--config", path, "--aggregate-id", aggregate, "--json"}, 30s);
    ASSERT_TRUE(upcast.status.is_exit(0)) << upcast.output;
    EXPECT_NE(upcast.output.find(R"("event_type":"Deposited","payload":{"amount": 100})"),
              std::string::npos)
        << upcast.output;
}

TEST_F(Upcasters, CheckConfigConnectRejectsAWhenThatIsNotBoolean) {
    migrate();
    const std::string base = base_config();
    const auto line = std::to_string(std::count(base.begin(), base.end(), '\n') + 3);
    const auto path = write_file("sluice.yaml", base + R"(upcasters:
  - event_type: Deposited
    when: :payload->'cents'
    payload: to_json(:payload)
)" + consumers);
    auto checked =
        run_command({sluice_binary(), "check-config", "--config", path, "--connect"}, 30s);
    EXPECT_TRUE(checked.status.is_exit(2)) << checked.output;
    EXPECT_NE(checked.output.find(":" + line +
                                  ":11: when of upcaster 1 (Deposited): must be of type "
                                  "boolean, but is of type jsonb"),
              std::string::npos)
        << checked.output;
    EXPECT_NE(checked.output.find(":" + std::to_string(std::stoi(line) + 1) +
                                  ":14: payload of upcaster 1 (Deposited): must be of type "
                                  "jsonb, but is of type json"),
              std::string::npos)
        << checked.output;
}

TEST_F(Upcasters, AProjectionBuiltThroughOtherUpcastersWaitsForARebuild) {
    migrate();
    const auto ids = write_events();
    conn().exec("DELETE FROM events WHERE version = 2");  // the one that fails
    const std::string projection_only = consumers.substr(0, consumers.find("webhooks:"));
    const auto path = write_file("sluice.yaml", base_config() + upcasters + projection_only);
    {
        auto daemon = DaemonProcess::start(path);
        ASSERT_TRUE(wait_checkpoint("balance", head(), 30s)) << diagnose(daemon);
        daemon.kill(SIGTERM);
        ASSERT_TRUE(daemon.wait_exit(20s)) << diagnose(daemon);
    }
    EXPECT_EQ(scalar("SELECT sum(amount) FROM deposits"), 100 + 5 + 1);
    // Cents now count as they are: the deposits applied so far were made by the old upcaster.
    std::string changed = upcasters;
    changed.replace(changed.find(" / (:payload->>'d')::int"), 24, "");
    write_file("sluice.yaml", base_config() + changed + projection_only);
    auto daemon = DaemonProcess::start(path);
    ASSERT_TRUE(wait_status(
        daemon,
        [](const StatusView& s) {
            auto b = s.subscriber("balance");
            return b && b->last_error.find("run `sluice rebuild balance`") != std::string::npos;
        },
        20s))
        << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT sum(amount) FROM deposits"), 106) << "nothing applied meanwhile";
    auto rebuilt =
        run_command({sluice_binary(), "rebuild", "balance", "--config", path, "--yes"}, 60s);
    ASSERT_TRUE(rebuilt.status.is_exit(0)) << rebuilt.output;
    EXPECT_EQ(scalar("SELECT sum(amount) FROM deposits"), 700 + 5 + 100);
    // The daemon goes on through the new upcasters.
    store::EventWriter writer(conn());
    writer.append(aggregate, "Account", 5, {{"Credited", R"({"cents": 3, "d": 1})"}});
    ASSERT_TRUE(wait_checkpoint("balance", head(), 60s)) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT sum(amount) FROM deposits"), 700 + 5 + 100 + 3);
    (void)ids;
}

}  // namespace
}  // namespace sluice::testing
