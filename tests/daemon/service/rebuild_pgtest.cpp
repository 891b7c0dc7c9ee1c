// `sluice rebuild` beside a running daemon while events flow: the rebuilt projection equals a
// fresh recomputation, the daemon pauses only that projection (the other keeps advancing and is
// never paused) and resumes it afterwards. Misuse of the command exits 2 with a clear message.
#include <csignal>
#include <set>

#include "daemon_fixture.hpp"
#include "event_writer.hpp"

namespace sluice::testing {
namespace {

const std::string projections = R"(projections:
  - name: p
    setup: |
      CREATE TABLE IF NOT EXISTS p_applied (event_id bigint PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS p_summary (g int PRIMARY KEY, events bigint NOT NULL,
        total bigint NOT NULL)
    reset: TRUNCATE p_applied, p_summary
    handlers:
      Tick: |
        INSERT INTO p_applied VALUES (:id);
        INSERT INTO p_summary VALUES ((:payload->>'g')::int, 1, (:payload->>'n')::bigint)
          ON CONFLICT (g) DO UPDATE SET events = p_summary.events + 1,
            total = p_summary.total + EXCLUDED.total
  - name: q
    setup: CREATE TABLE IF NOT EXISTS q_applied (event_id bigint PRIMARY KEY)
    handlers:
      Tick: INSERT INTO q_applied VALUES (:id)
)";

// Enough events that the replay (100 per statement) takes seconds, not milliseconds.
constexpr std::int64_t prefilled = 30000;

class Rebuild : public DaemonTest {
  protected:
    void SetUp() override {
        DaemonTest::SetUp();
        db_->migrate();
        config_ = write_file("sluice.yaml", base_config({.batch_size = 100}) + projections);
    }

    std::string config_;
};

TEST_F(Rebuild, ReplaysOneProjectionWhileTheDaemonKeepsTheOtherRunning) {
    append_ticks(prefilled);
    auto daemon = DaemonProcess::start(config_);
    ASSERT_TRUE(wait_running(daemon, {"p", "q"}));
    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
    ASSERT_TRUE(wait_checkpoint("q", head(), 60s)) << diagnose(daemon);

    EventWriter writer(db_->url());
    ASSERT_TRUE(writer.wait_appended(200, 10s)) << writer.error();

    auto q_before = checkpoint("q");
    auto rebuild = DaemonProcess::spawn({"rebuild", "p", "-c", config_, "--yes"});
    std::set<std::string> p_states;
    std::set<std::string> q_states;
    bool not_ready_while_paused = false;
    // Observe /status for as long as the rebuild runs (bounded).
    bool finished = wait_until(
        [&] {
            auto st = status(daemon);
            auto p = st.subscriber("p");
            auto q = st.subscriber("q");
            if (p)
                p_states.insert(p->state);
            if (q)
                q_states.insert(q->state);
            if (p && p->state == "paused" && !st.ready)
                not_ready_while_paused = true;
            return !rebuild.running();
        },
        120s);
    ASSERT_TRUE(finished) << "the rebuild did not finish within 120 s\n" << rebuild.output_tail();
    auto q_after = checkpoint("q");
    auto exit = rebuild.wait_exit(1s);
    ASSERT_TRUE(exit && exit->is_exit(0)) << rebuild.output_tail();
    EXPECT_NE(rebuild.output().find("rebuilt p: replayed "), std::string::npos)
        << rebuild.output_tail();

    EXPECT_TRUE(p_states.contains("paused"))
        << "the daemon never reported p as paused during the rebuild\n"
        << diagnose(daemon);
    EXPECT_FALSE(q_states.contains("paused")) << "q was paused by a rebuild of p";
    EXPECT_EQ(q_states, std::set<std::string>{"running"});
    ASSERT_TRUE(q_before && q_after);
    EXPECT_GT(*q_after, *q_before) << "q did not advance while p was being rebuilt";
    // A pause for a rebuild is intended: the daemon stays ready (see docs/operations.md).
    EXPECT_FALSE(not_ready_while_paused);

    EXPECT_TRUE(wait_status(
        daemon, [](const StatusView& st) { return st.subscriber("p")->state == "running"; }, 15s))
        << "p did not resume after the rebuild\n"
        << diagnose(daemon);

    std::int64_t total = writer.stop();
    ASSERT_TRUE(writer.error().empty()) << writer.error();
    ASSERT_EQ(scalar("SELECT count(*) FROM events"), prefilled + total);
    ASSERT_TRUE(wait_checkpoint("p", head(), 30s)) << diagnose(daemon);
    ASSERT_TRUE(wait_checkpoint("q", head(), 30s)) << diagnose(daemon);

    EXPECT_EQ(scalar("SELECT count(*) FROM p_applied"), prefilled + total);
    EXPECT_EQ(differences("SELECT g, events, total FROM p_summary",
                          "SELECT (payload->>'g')::int, count(*), sum((payload->>'n')::bigint) "
                          "FROM events GROUP BY 1"),
              0)
        << "p's read model differs from a recomputation over the events table";
    EXPECT_EQ(scalar("SELECT count(*) FROM q_applied"), prefilled + total);
    auto st = status(daemon);
    EXPECT_EQ(st.subscriber("q")->errors, 0U) << diagnose(daemon);
    EXPECT_TRUE(st.ready) << st.reason;

    daemon.kill(SIGTERM);
    auto daemon_exit = daemon.wait_exit(30s);
    ASSERT_TRUE(daemon_exit) << diagnose(daemon);
    EXPECT_TRUE(daemon_exit->is_exit(0)) << daemon_exit->describe();
}

TEST_F(Rebuild, MovesAProjectionToANewNumberOfPartitions) {
    append_ticks(5000);
    {
        auto daemon = DaemonProcess::start(config_);
        ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
        daemon.kill(SIGTERM);
        ASSERT_TRUE(daemon.wait_exit(30s)) << diagnose(daemon);
    }
    std::string split = projections;
    split.replace(split.find("  - name: p\n"), 12, "  - name: p\n    partitions: 3\n");
    auto config = write_file("split.yaml", base_config({.batch_size = 100}) + split);
    auto daemon = DaemonProcess::start(config);
    // The parts refuse to continue from progress stored under the old split ...
    ASSERT_TRUE(daemon.wait_for_log("progress stored under another partitioning", 30s))
        << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM p_applied"), 5000) << "events applied twice";

    // ... until a rebuild replays p and hands every part the end position.
    auto rebuild = DaemonProcess::spawn({"rebuild", "p", "-c", config, "--yes"});
    auto exit = rebuild.wait_exit(120s);
    ASSERT_TRUE(exit && exit->is_exit(0)) << rebuild.output_tail();
    EXPECT_FALSE(checkpoint("p")) << "the unpartitioned checkpoint was left behind";
    append_ticks(3000);
    for (const char* part : {"p[1/3]", "p[2/3]", "p[3/3]"}) {
        ASSERT_TRUE(wait_checkpoint(part, head(), 90s)) << part << "\n" << diagnose(daemon);
    }
    EXPECT_EQ(scalar("SELECT count(*) FROM p_applied"), 8000);
    EXPECT_EQ(differences("SELECT g, events, total FROM p_summary",
                          "SELECT (payload->>'g')::int, count(*), sum((payload->>'n')::bigint) "
                          "FROM events GROUP BY 1"),
              0)
        << "p's read model differs from a recomputation over the events table";
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.owners WHERE name LIKE 'p[%'"), 3);
    daemon.kill(SIGTERM);
    ASSERT_TRUE(daemon.wait_exit(30s)) << diagnose(daemon);
}

TEST_F(Rebuild, PrintsItsFinalProgressLineOnce) {
    append_ticks(50);
    {
        auto daemon = DaemonProcess::start(config_);
        ASSERT_TRUE(wait_running(daemon, {"p", "q"}));
        ASSERT_TRUE(wait_checkpoint("p", head(), 30s)) << diagnose(daemon);
        ASSERT_TRUE(daemon.terminate().is_exit(0));
    }
    auto rebuild = DaemonProcess::spawn({"rebuild", "p", "-c", config_, "--yes"});
    auto exit = rebuild.wait_exit(60s);
    ASSERT_TRUE(exit && exit->is_exit(0)) << rebuild.output_tail();
    EXPECT_EQ(rebuild.count_in_log("rebuild: 50/50 events (100%)"), 1U) << rebuild.output();
    EXPECT_EQ(rebuild.count_in_log("rebuild: "), 1U) << rebuild.output();
    EXPECT_EQ(scalar("SELECT count(*) FROM p_applied"), 50);
}

TEST_F(Rebuild, RefusesToRunWithoutYesWhenNotOnATerminal) {
    // DaemonProcess gives the child /dev/null as stdin: no terminal to confirm on.
    auto rebuild = DaemonProcess::spawn({"rebuild", "p", "-c", config_});
    auto exit = rebuild.wait_exit(30s);
    ASSERT_TRUE(exit) << rebuild.output_tail();
    EXPECT_TRUE(exit->is_exit(2)) << exit->describe() << "\n" << rebuild.output_tail();
    EXPECT_NE(rebuild.output().find("not on a terminal: pass --yes to rebuild 'p'"),
              std::string::npos)
        << rebuild.output_tail();
    EXPECT_FALSE(checkpoint("p")) << "the refused rebuild touched the checkpoint";
}

TEST_F(Rebuild, RejectsAnUnknownProjectionName) {
    auto rebuild = DaemonProcess::spawn({"rebuild", "nope", "-c", config_, "--yes"});
    auto exit = rebuild.wait_exit(30s);
    ASSERT_TRUE(exit) << rebuild.output_tail();
    EXPECT_TRUE(exit->is_exit(2)) << exit->describe() << "\n" << rebuild.output_tail();
    EXPECT_NE(rebuild.output().find("no projection named 'nope' in " + config_), std::string::npos)
        << rebuild.output_tail();
}

TEST_F(Rebuild, RefusesAHandlerThatAppendsEventsWhichAReplayWouldAppendAgain) {
    // A handler that appends an event of another type for each Tick: fine live, but a replay
    // would append every one of those events a second time.
    const std::string config = write_file(
        "appends.yaml", base_config({.batch_size = 100}) +
                            "projections:\n"
                            "  - name: echo\n"
                            "    handlers:\n"
                            "      Tick: INSERT INTO events (aggregate_id, aggregate_type, "
                            "version, event_type, payload) VALUES (gen_random_uuid(), "
                            "'Echo', 1, 'Echoed', '{}')\n");
    append_ticks(5);
    const auto events = scalar("SELECT count(*) FROM events");
    auto rebuild = DaemonProcess::spawn({"rebuild", "echo", "-c", config, "--yes"});
    auto exit = rebuild.wait_exit(60s);
    ASSERT_TRUE(exit) << rebuild.output_tail();
    EXPECT_FALSE(exit->is_exit(0)) << rebuild.output_tail();
    EXPECT_NE(
        rebuild.output().find("echo: a handler appends events, and a replay would append them"),
        std::string::npos)
        << rebuild.output_tail();
    EXPECT_EQ(scalar("SELECT count(*) FROM events"), events) << "the replay appended events";
}

}  // namespace
}  // namespace sluice::testing
