// A poison event (its handler always fails) in the middle of a batch: with `then: park` it is
// parked with its error and SQLSTATE and every other event is applied; with `then: stop` its
// projection stops right before it, /readyz reports the daemon unready, and a healthy projection
// beside it carries on. A parked event is brought back by `sluice parked`: listed (text and
// JSON), retried through the fixed handler exactly once (under the subscriber's lock, beside the
// running daemon, all or nothing per event), or dropped.
#include <gmock/gmock.h>

#include <boost/json.hpp>
#include <csignal>
#include <regex>
#include <thread>

#include "daemon_fixture.hpp"
#include "tests/store/sluice_process.hpp"

namespace sluice::testing {
namespace {

constexpr int events_in_batch = 10;
constexpr int poison_index = 5;  // 0-based: events 0..4 come before it

std::string numbers_projection(const std::string& name, const std::string& then) {
    return "  - name: " + name +
           "\n"
           "    setup: CREATE TABLE IF NOT EXISTS " +
           name +
           "_numbers (event_id bigint PRIMARY KEY, n int NOT NULL)\n"
           "    handlers:\n"
           "      E: INSERT INTO " +
           name +
           "_numbers VALUES (:id, (:payload->>'n')::int)\n"
           "    on_error: {retries: 1, backoff: 100ms, then: " +
           then + "}\n";
}

// p's handler after the fix: n = "x" counts as -1, any other non-integer still fails. Two
// statements, the first recording that it ran, so a retry that fails in the second must leave
// nothing of the first.
const std::string fixed_projection =
    "  - name: p\n"
    "    setup: |\n"
    "      CREATE TABLE IF NOT EXISTS p_numbers (event_id bigint PRIMARY KEY, n int NOT NULL);\n"
    "      CREATE TABLE IF NOT EXISTS p_handled (event_id bigint NOT NULL)\n"
    "    handlers:\n"
    "      E: |\n"
    "        INSERT INTO p_handled VALUES (:id);\n"
    "        INSERT INTO p_numbers VALUES\n"
    "          (:id, CASE :payload->>'n' WHEN 'x' THEN -1 ELSE (:payload->>'n')::int END)\n"
    "    on_error: {retries: 1, backoff: 100ms, then: park}\n";

// p_numbers computed afresh from the events as the fixed handler sees them: every event but
// those with n = "y", which still fail.
const std::string fixed_read_model =
    "SELECT id, CASE payload->>'n' WHEN 'x' THEN -1 ELSE (payload->>'n')::int END FROM events "
    "WHERE event_type = 'E' AND payload->>'n' <> 'y'";

class Poison : public DaemonTest {
  protected:
    // One transaction (so one batch) of events with n = 0..9, except n = "x" at poison_index.
    // Returns their positions in order.
    std::vector<Position> insert_batch_with_poison() {
        std::vector<Position> out;
        conn().exec("BEGIN");
        for (int i = 0; i < events_in_batch; ++i) {
            std::string n = i == poison_index ? "\"x\"" : std::to_string(i);
            out.push_back(insert_event("E", "{\"n\": " + n + "}"));
        }
        conn().exec("COMMIT");
        return out;
    }

    // sluice running p with `then: park` over a batch with a poison (batch_, the poison at
    // poison_index, n = "x") and, with `also_y`, a later poison with n = "y" (y_); returns once p
    // has passed both, so they are parked.
    DaemonProcess park_poison(bool also_y = false) {
        db_->migrate();
        config_ = write_file("sluice.yaml",
                             base_config() + "projections:\n" + numbers_projection("p", "park"));
        auto daemon = DaemonProcess::start(config_);
        EXPECT_TRUE(wait_running(daemon, {"p"}));
        batch_ = insert_batch_with_poison();
        if (also_y)
            y_ = insert_event("E", "{\"n\": \"y\"}");
        Position after = insert_event("E", "{\"n\": 100}");
        EXPECT_TRUE(wait_checkpoint("p", after, 20s)) << diagnose(daemon);
        return daemon;
    }

    // `sluice parked ARGS...`, stdout and stderr apart.
    static ProcessResult parked(std::vector<std::string> args) {
        args.insert(args.begin(), "parked");
        return run_sluice(args);
    }

    [[nodiscard]] std::string fixed_config() const {
        return write_file("fixed.yaml", base_config() + "projections:\n" + fixed_projection);
    }
    [[nodiscard]] std::int64_t parked_count() {
        return scalar("SELECT count(*) FROM sluice.parked_events");
    }
    [[nodiscard]] Position poison() const { return batch_.at(poison_index); }

    std::string config_;
    std::vector<Position> batch_;
    Position y_;
};

// Table cells: columns are two or more spaces apart.
std::vector<std::string> cells_of(const std::string& line) {
    static const std::regex gap(" {2,}");
    return {std::sregex_token_iterator(line.begin(), line.end(), gap, -1),
            std::sregex_token_iterator()};
}

TEST_F(Poison, ParkedEventIsRecordedAndEveryOtherEventApplied) {
    db_->migrate();
    auto daemon = DaemonProcess::start(write_file(
        "sluice.yaml", base_config() + "projections:\n" + numbers_projection("p", "park")));
    ASSERT_TRUE(wait_running(daemon, {"p"}));
    auto batch = insert_batch_with_poison();
    Position after = insert_event("E", "{\"n\": 100}");  // a later transaction goes on as well
    std::int64_t poison = batch[poison_index].id;

    ASSERT_TRUE(wait_checkpoint("p", after, 20s)) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM p_numbers"), events_in_batch);  // 9 + the later one
    EXPECT_EQ(scalar("SELECT count(*) FROM p_numbers WHERE event_id = $1", pg::Params(poison)), 0);

    auto r = conn().exec(
        "SELECT event_id, error, sqlstate FROM sluice.parked_events "
        "WHERE subscriber = 'p'");
    ASSERT_EQ(r.rows(), 1);
    EXPECT_EQ(r.int64(0, 0), poison);
    EXPECT_NE(std::string(r.text(0, 1)).find("invalid input syntax for type integer"),
              std::string::npos)
        << r.text(0, 1);
    EXPECT_EQ(r.text(0, 2), "22P02");

    auto s = status(daemon).subscriber("p");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->state, "running");
    EXPECT_EQ(s->parked, 1U);
    EXPECT_EQ(s->position, after);
    EXPECT_GE(s->errors, 2U) << "one failure plus one retry";
    EXPECT_EQ(s->sqlstate, "22P02");
    EXPECT_EQ(s->failed_event_id, poison);
    EXPECT_EQ(daemon.http_get("/readyz").status, 200);
}

TEST_F(Poison, StoppedProjectionHaltsBeforeThePoisonWhileAHealthyOneContinues) {
    db_->migrate();
    auto daemon = DaemonProcess::start(write_file(
        "sluice.yaml", base_config() + "projections:\n" + numbers_projection("p1", "stop") +
                           "  - name: p2\n"
                           "    setup: CREATE TABLE IF NOT EXISTS p2_seen "
                           "(event_id bigint PRIMARY KEY)\n"
                           "    handlers:\n"
                           "      E: INSERT INTO p2_seen VALUES (:id)\n"));
    ASSERT_TRUE(wait_running(daemon, {"p1", "p2"}));
    EXPECT_EQ(daemon.http_get("/readyz").status, 200);
    auto batch = insert_batch_with_poison();
    Position after = insert_event("E", "{\"n\": 100}");
    std::int64_t poison = batch[poison_index].id;

    ASSERT_TRUE(wait_checkpoint("p2", after, 20s)) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM p2_seen"), events_in_batch + 1);

    ASSERT_TRUE(
        wait_until([&] { return status(daemon).subscriber("p1")->state == "stopped"; }, 20s))
        << diagnose(daemon);
    auto s = status(daemon).subscriber("p1");
    EXPECT_EQ(s->failed_event_id, poison);
    EXPECT_EQ(s->sqlstate, "22P02");
    EXPECT_NE(s->last_error.find("invalid input syntax for type integer"), std::string::npos)
        << s->last_error;
    // Stopped right before the poison: the good events before it in the same batch committed.
    Position before_poison = batch[poison_index - 1];
    EXPECT_EQ(s->position, before_poison);
    EXPECT_EQ(checkpoint("p1"), before_poison);
    EXPECT_EQ(scalar("SELECT count(*) FROM p1_numbers"), poison_index);
    EXPECT_EQ(scalar("SELECT max(event_id) FROM p1_numbers"), before_poison.id);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.parked_events"), 0);

    auto ready = daemon.http_get("/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find("p1 stopped"), std::string::npos) << ready.body;
    EXPECT_FALSE(status(daemon).ready);
}

TEST_F(Poison, AStoppedProjectionsLagKeepsCountingAlsoAfterAReload) {
    db_->migrate();
    std::string path = write_file(
        "sluice.yaml", base_config() + "projections:\n" + numbers_projection("p1", "stop"));
    auto daemon = DaemonProcess::start(path);
    ASSERT_TRUE(wait_running(daemon, {"p1"}));
    auto batch = insert_batch_with_poison();
    insert_event("E", "{\"n\": 100}");
    insert_event("E", "{\"n\": 101}");
    // Behind the checkpoint (right before the poison): the poison, the rest of its batch and
    // the two later events.
    const std::int64_t behind = events_in_batch - poison_index + 2;
    ASSERT_TRUE(
        wait_until([&] { return status(daemon).subscriber("p1")->state == "stopped"; }, 20s))
        << diagnose(daemon);

    auto counts_the_backlog = [&](const StatusView& st) {
        auto p = st.subscriber("p1");
        return p && p->lag_events >= behind && p->lag_seconds > 0;
    };
    EXPECT_TRUE(wait_status(daemon, counts_the_backlog, 15s))
        << "a stopped projection's lag must count what it has not applied\n"
        << diagnose(daemon);
    auto before = status(daemon).subscriber("p1");
    ASSERT_TRUE(before);

    // A reload with the handler still failing: p1 restarts, fails again and stops again; from
    // the first /status after the reload on, its lag is never reported as caught up.
    std::size_t reloads = daemon.count_in_log("msg=\"configuration reloaded\"");
    daemon.kill(SIGHUP);
    ASSERT_TRUE(daemon.wait_for_log("msg=\"configuration reloaded\"", 20s, reloads + 1))
        << diagnose(daemon);
    auto deadline = std::chrono::steady_clock::now() + 8s;
    int observed = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        auto p = status(daemon).subscriber("p1");
        ASSERT_TRUE(p);
        EXPECT_GE(p->lag_events, behind) << "state " << p->state << "\n" << diagnose(daemon);
        EXPECT_GT(p->lag_seconds, 0) << "state " << p->state;
        if (p->lag_events < behind || p->lag_seconds <= 0)
            break;
        ++observed;
        std::this_thread::sleep_for(200ms);
    }
    EXPECT_GT(observed, 0);
    auto after = status(daemon).subscriber("p1");
    ASSERT_TRUE(after);
    EXPECT_EQ(after->state, "stopped") << diagnose(daemon);
    EXPECT_EQ(after->position, before->position);
    EXPECT_GE(after->lag_seconds, before->lag_seconds) << "the oldest unapplied event only ages";
}

TEST_F(Poison, ParkedListShowsTheParkedEventWithItsErrorAsATableAndAsJson) {
    auto daemon = park_poison();
    ASSERT_EQ(parked_count(), 1) << diagnose(daemon);
    auto row = conn().exec(
        "SELECT e.aggregate_id::text, to_char(p.parked_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), p.error FROM sluice.parked_events p "
        "JOIN events e ON e.id = p.event_id");
    const std::string aggregate(row.text(0, 0));
    const std::string parked_at(row.text(0, 1));
    const std::string error(row.text(0, 2));
    EXPECT_EQ(error, "invalid input syntax for type integer: \"x\"");

    auto text = parked({"list", "--database-url", url()});
    EXPECT_EQ(text.exit_code, 0) << text.err;
    EXPECT_EQ(text.err, "");
    auto lines = lines_of(text.out);
    ASSERT_EQ(lines.size(), 2U) << text.out;
    EXPECT_EQ(cells_of(lines[0]),
              (std::vector<std::string>{"SUBSCRIBER", "EVENT", "TRANSACTION", "AGGREGATE ID",
                                        "AGGREGATE TYPE", "EVENT TYPE", "PARKED AT", "SQLSTATE",
                                        "BEHIND", "ERROR"}));
    EXPECT_EQ(cells_of(lines[1]),
              (std::vector<std::string>{"p", std::to_string(poison().id),
                                        std::to_string(poison().transaction_id), aggregate, "Test",
                                        "E", parked_at, "22P02", "-", error}));

    // The documented JSON shape, read through the config this time.
    auto js = parked({"list", "p", "--json", "--config", config_});
    EXPECT_EQ(js.exit_code, 0) << js.err;
    auto parsed = boost::json::parse(js.out);
    ASSERT_TRUE(parsed.is_array()) << js.out;
    ASSERT_EQ(parsed.as_array().size(), 1U) << js.out;
    EXPECT_EQ(parsed.as_array()[0], (boost::json::value(boost::json::object{
                                        {"subscriber", "p"},
                                        {"event_id", poison().id},
                                        {"transaction_id", std::to_string(poison().transaction_id)},
                                        {"aggregate_id", aggregate},
                                        {"aggregate_type", "Test"},
                                        {"event_type", "E"},
                                        {"parked_at", parked_at},
                                        {"sqlstate", "22P02"},
                                        {"error", error},
                                        {"quarantine", false},
                                        {"behind", nullptr}})))
        << js.out;
}

TEST_F(Poison, RetryThroughTheFixedHandlerAppliesTheParkedEventOnceBesideTheRunningDaemon) {
    auto daemon = park_poison();
    ASSERT_EQ(parked_count(), 1) << diagnose(daemon);
    ASSERT_EQ(differences("SELECT event_id, n FROM p_numbers", fixed_read_model), 1)
        << "the parked event is missing from the read model";
    const std::string id = std::to_string(poison().id);
    const std::string fixed = fixed_config();

    auto r = parked({"retry", "p", "--event", id, "--config", fixed});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "applied event " + id + " of p\nretried 1 parked event of p\n");
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(parked_count(), 0);
    EXPECT_EQ(differences("SELECT event_id, n FROM p_numbers", fixed_read_model), 0);
    EXPECT_EQ(scalar("SELECT count(*) FROM p_handled WHERE event_id = $1", pg::Params(poison().id)),
              1);

    // Once applied it is not parked any more: a second retry changes nothing.
    auto again = parked({"retry", "p", "--event", id, "--config", fixed});
    EXPECT_EQ(again.exit_code, 2) << again.err;
    EXPECT_EQ(again.out, "");
    EXPECT_EQ(again.err,
              "sluice parked: event " + id + " is not parked for p (nothing is parked for it)\n");
    EXPECT_EQ(scalar("SELECT count(*) FROM p_handled"), 1);
    EXPECT_EQ(differences("SELECT event_id, n FROM p_numbers", fixed_read_model), 0);

    // The daemon was not disturbed: it goes on with the next event.
    Position later = insert_event("E", "{\"n\": 7}");
    EXPECT_TRUE(wait_checkpoint("p", later, 20s)) << diagnose(daemon);
    EXPECT_EQ(differences("SELECT event_id, n FROM p_numbers", fixed_read_model), 0);
}

TEST_F(Poison, RetryStopsAtTheFirstEventThatStillFailsAndLeavesNothingOfIt) {
    auto daemon = park_poison(true);
    ASSERT_EQ(parked_count(), 2) << diagnose(daemon);
    const std::string x = std::to_string(poison().id);
    const std::string y = std::to_string(y_.id);

    // What the handlers that parked y said; the failed retry replaces it with what they say now.
    conn().exec(
        "UPDATE sluice.parked_events SET error = 'the old handler', sqlstate = 'XX000' "
        "WHERE event_id = $1",
        pg::Params(y_.id));

    auto r = parked({"retry", "p", "--all", "--config", fixed_config()});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.out, "applied event " + x + " of p\n");
    EXPECT_EQ(r.err, "sluice parked: retry: event " + y +
                         " of p failed: invalid input syntax for type integer: \"y\" (SQLSTATE "
                         "22P02); it stays parked, nothing of it was applied; the 1 before it "
                         "stay applied\n");
    // x is applied and unparked; y stays parked, and its first statement left nothing.
    EXPECT_EQ(
        scalar("SELECT count(*) FROM sluice.parked_events WHERE event_id = $1", pg::Params(y_.id)),
        1);
    EXPECT_EQ(parked_count(), 1);
    auto row = conn().exec("SELECT error, sqlstate FROM sluice.parked_events WHERE event_id = $1",
                           pg::Params(y_.id));
    EXPECT_EQ(row.text(0, 0), "invalid input syntax for type integer: \"y\"");
    EXPECT_EQ(row.text(0, 1), "22P02");
    EXPECT_EQ(scalar("SELECT count(*) FROM p_handled"), 1);
    EXPECT_EQ(scalar("SELECT count(*) FROM p_handled WHERE event_id = $1", pg::Params(poison().id)),
              1);
    EXPECT_EQ(differences("SELECT event_id, n FROM p_numbers", fixed_read_model), 0);
}

TEST_F(Poison, RetryWaitsForTheSubscribersLockAndAppliesNothingWhenTheEventLeftTheListMeanwhile) {
    auto daemon = park_poison();
    ASSERT_EQ(parked_count(), 1) << diagnose(daemon);
    const std::string id = std::to_string(poison().id);

    // Another writer of p (as the daemon's batch would) holds p's lock while the retry starts.
    auto writer = pg::Connection::open(url());
    writer.exec("BEGIN");
    writer.exec("SELECT pg_advisory_xact_lock(sluice.subscriber_lock_key('p'))");
    auto retry =
        SluiceProcess::start({"parked", "retry", "p", "--event", id, "--config", fixed_config()});
    EXPECT_TRUE(wait_until(
        [&] {
            return scalar(
                       "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                       "NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = "
                       "current_database())") == 1;
        },
        15s))
        << "the retry must wait for the subscriber's lock";
    EXPECT_EQ(scalar("SELECT count(*) FROM p_numbers WHERE event_id = $1", pg::Params(poison().id)),
              0);
    // That writer drops the event before letting go.
    writer.exec("DELETE FROM sluice.parked_events WHERE event_id = $1", pg::Params(poison().id));
    writer.exec("COMMIT");

    auto r = retry.wait();
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err, "sluice parked: event " + id +
                         " is not parked for p (retried or dropped meanwhile)\n");
    EXPECT_EQ(scalar("SELECT count(*) FROM p_handled"), 0);
    EXPECT_EQ(scalar("SELECT count(*) FROM p_numbers WHERE event_id = $1", pg::Params(poison().id)),
              0);
}

TEST_F(Poison, DropDiscardsParkedEventsOnPurposeAndSaysHowMany) {
    auto daemon = park_poison(true);
    ASSERT_EQ(parked_count(), 2) << diagnose(daemon);
    const std::string x = std::to_string(poison().id);
    const std::string y = std::to_string(y_.id);
    const std::int64_t numbers = scalar("SELECT count(*) FROM p_numbers");

    auto one = parked({"drop", "p", "--event", x, "--database-url", url()});
    EXPECT_EQ(one.exit_code, 0) << one.err;
    EXPECT_EQ(one.out, "dropped 1 parked event of p\n");
    auto gone = parked({"drop", "p", "--event", x, "--database-url", url()});
    EXPECT_EQ(gone.exit_code, 2) << gone.err;
    EXPECT_EQ(gone.err, "sluice parked: event " + x + " is not parked for p (parked: " + y + ")\n");

    insert_event("E", "{\"n\": \"y\"}");  // one more that parks
    ASSERT_TRUE(wait_until([&] { return parked_count() == 2; }, 20s)) << diagnose(daemon);
    auto all = parked({"drop", "p", "--all", "--config", config_});
    EXPECT_EQ(all.exit_code, 0) << all.err;
    EXPECT_EQ(all.out, "dropped 2 parked events of p\n");
    EXPECT_EQ(parked_count(), 0);
    EXPECT_EQ(scalar("SELECT count(*) FROM p_numbers"), numbers) << "dropping applies nothing";
    auto list = parked({"list", "p", "--database-url", url()});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    EXPECT_EQ(list.out, "no parked events of p\n");
}

}  // namespace
}  // namespace sluice::testing
