// A poison event (its handler always fails) in the middle of a batch: with `then: park` it is
// parked with its error and SQLSTATE and every other event is applied; with `then: stop` its
// projection stops right before it, /readyz reports the daemon unready, and a healthy projection
// beside it carries on.
#include <csignal>
#include <thread>

#include "daemon_fixture.hpp"

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
};

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

}  // namespace
}  // namespace sluice::testing
