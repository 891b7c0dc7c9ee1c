// SIGHUP while events flow: the new config's diff is applied (a removed projection stops, a new
// one starts from the first event, a changed one restarts at its stored checkpoint) without an
// event applied twice or skipped; an invalid config keeps the old one running and says so in
// /metrics and /status.
#include <algorithm>
#include <csignal>

#include "daemon_fixture.hpp"
#include "event_writer.hpp"

namespace sluice::testing {
namespace {

// Each projection logs every event it applies under a primary key, so a second application
// would fail the batch instead of passing unnoticed; `version` says which handler applied it.
const std::string projection_a_v1 = R"(
  - name: a
    setup: |
      CREATE TABLE IF NOT EXISTS a_applied (event_id bigint PRIMARY KEY, version int NOT NULL);
      CREATE TABLE IF NOT EXISTS a_summary (g int PRIMARY KEY, events bigint NOT NULL,
        total bigint NOT NULL)
    handlers:
      Tick: |
        INSERT INTO a_applied VALUES (:id, 1);
        INSERT INTO a_summary VALUES ((:payload->>'g')::int, 1, (:payload->>'n')::bigint)
          ON CONFLICT (g) DO UPDATE SET events = a_summary.events + 1,
            total = a_summary.total + EXCLUDED.total
)";

// The changed handler also counts in a new column.
const std::string projection_a_v2 = R"(
  - name: a
    setup: |
      CREATE TABLE IF NOT EXISTS a_applied (event_id bigint PRIMARY KEY, version int NOT NULL);
      CREATE TABLE IF NOT EXISTS a_summary (g int PRIMARY KEY, events bigint NOT NULL,
        total bigint NOT NULL);
      ALTER TABLE a_summary ADD COLUMN IF NOT EXISTS v2_events bigint NOT NULL DEFAULT 0
    handlers:
      Tick: |
        INSERT INTO a_applied VALUES (:id, 2);
        INSERT INTO a_summary VALUES ((:payload->>'g')::int, 1, (:payload->>'n')::bigint, 1)
          ON CONFLICT (g) DO UPDATE SET events = a_summary.events + 1,
            total = a_summary.total + EXCLUDED.total, v2_events = a_summary.v2_events + 1
)";

const std::string projection_b = R"(
  - name: b
    setup: CREATE TABLE IF NOT EXISTS b_applied (event_id bigint PRIMARY KEY)
    handlers:
      Tick: INSERT INTO b_applied VALUES (:id)
)";

const std::string projection_c = R"(
  - name: c
    setup: |
      CREATE TABLE IF NOT EXISTS c_applied (event_id bigint PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS c_summary (g int PRIMARY KEY, events bigint NOT NULL,
        total bigint NOT NULL)
    handlers:
      Tick: |
        INSERT INTO c_applied VALUES (:id);
        INSERT INTO c_summary VALUES ((:payload->>'g')::int, 1, (:payload->>'n')::bigint)
          ON CONFLICT (g) DO UPDATE SET events = c_summary.events + 1,
            total = c_summary.total + EXCLUDED.total
)";

const std::string recomputed_summary =
    "SELECT (payload->>'g')::int, count(*), sum((payload->>'n')::bigint) FROM events GROUP BY 1";

class Reload : public DaemonTest {
  protected:
    // Waits until `name` has applied everything committed so far.
    bool caught_up(const std::string& name) { return wait_checkpoint(name, head(), 30s); }

    // Every reload is confirmed by one more of these lines.
    bool reloaded(DaemonProcess& daemon, const std::string& line, std::size_t before) {
        return daemon.wait_for_log(line, 20s, before + 1);
    }
};

TEST_F(Reload, AppliesTheConfigDiffWhileEventsFlowWithoutLosingOrRepeatingAnEvent) {
    db_->migrate();
    std::string head_text = base_config() + "projections:";
    std::string path = write_file("sluice.yaml", head_text + projection_a_v1 + projection_b);
    auto daemon = DaemonProcess::start(path);
    ASSERT_TRUE(wait_running(daemon, {"a", "b"}));

    EventWriter writer(db_->url());
    ASSERT_TRUE(writer.wait_appended(1000, 20s)) << writer.error();
    // The old handler must have applied something before the reload, or there is no "before".
    ASSERT_TRUE(wait_until([&] { return scalar("SELECT count(*) FROM a_applied") > 0; }, 20s))
        << "projection a applied nothing before the reload\n"
        << diagnose(daemon);

    const std::string done = "msg=\"configuration reloaded\"";
    std::size_t reloads = daemon.count_in_log(done);
    write_file("sluice.yaml", head_text + projection_a_v2 + projection_c);
    daemon.kill(SIGHUP);
    ASSERT_TRUE(reloaded(daemon, done, reloads)) << diagnose(daemon);
    ASSERT_TRUE(daemon.wait_for_log("msg=\"subscriber removed\"", 5s)) << diagnose(daemon);
    // b's task has ended: its checkpoint must not move from here on.
    auto b_after_reload = checkpoint("b");
    auto b_rows_after_reload = scalar("SELECT count(*) FROM b_applied");
    ASSERT_TRUE(wait_running(daemon, {"a", "c"}));

    std::int64_t at_reload = writer.appended();
    ASSERT_TRUE(writer.wait_appended(at_reload + 1000, 20s)) << writer.error();
    std::int64_t total = writer.stop();
    ASSERT_TRUE(writer.error().empty()) << writer.error();
    ASSERT_EQ(scalar("SELECT count(*) FROM events"), total);

    ASSERT_TRUE(caught_up("a")) << diagnose(daemon);
    ASSERT_TRUE(caught_up("c")) << diagnose(daemon);

    // a: once per event, the old handler strictly before the new one in commit order.
    EXPECT_EQ(scalar("SELECT count(*) FROM a_applied"), total);
    EXPECT_GT(scalar("SELECT count(*) FROM a_applied WHERE version = 1"), 0);
    EXPECT_GT(scalar("SELECT count(*) FROM a_applied WHERE version = 2"), 0);
    EXPECT_EQ(scalar("SELECT count(*) FROM a_applied a JOIN events e ON e.id = a.event_id "
                     "WHERE a.version = 1 AND (e.transaction_id, e.id) > "
                     "(SELECT e2.transaction_id, e2.id FROM a_applied a2 JOIN events e2 "
                     " ON e2.id = a2.event_id WHERE a2.version = 2 "
                     " ORDER BY e2.transaction_id, e2.id LIMIT 1)"),
              0)
        << "the changed projection did not restart at its stored checkpoint";
    EXPECT_EQ(differences("SELECT g, events, total FROM a_summary", recomputed_summary), 0)
        << "a's read model differs from a recomputation over the events table";
    EXPECT_EQ(differences("SELECT g, v2_events FROM a_summary",
                          "SELECT (e.payload->>'g')::int, count(a.event_id) FROM events e "
                          "LEFT JOIN a_applied a ON a.event_id = e.id AND a.version = 2 "
                          "GROUP BY 1"),
              0)
        << "the new column does not count exactly the events the new handler applied";

    // c: from the first event.
    EXPECT_EQ(scalar("SELECT count(*) FROM c_applied"), total);
    EXPECT_EQ(differences("SELECT g, events, total FROM c_summary", recomputed_summary), 0);

    // b: stopped at the reload.
    EXPECT_EQ(checkpoint("b"), b_after_reload);
    EXPECT_EQ(scalar("SELECT count(*) FROM b_applied"), b_rows_after_reload);
    EXPECT_LT(b_rows_after_reload, total);

    auto st = status(daemon);
    EXPECT_EQ(st.names(), (std::vector<std::string>{"a", "c"}));
    for (const auto& s : st.subscribers)
        EXPECT_EQ(s.errors, 0U) << s.name << " had errors\n" << diagnose(daemon);
    auto metrics = daemon.http_get("/metrics").body;
    EXPECT_EQ(metrics.find("name=\"b\""), std::string::npos) << "b's series outlived it";
    EXPECT_NE(metrics.find("name=\"c\""), std::string::npos);

    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(30s);
    ASSERT_TRUE(exit) << diagnose(daemon);
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe();
}

TEST_F(Reload, AnInvalidConfigKeepsTheRunningOneAndIsReported) {
    db_->migrate();
    std::string valid = base_config() + "projections:" + projection_a_v1 + projection_c;
    std::string path = write_file("sluice.yaml", valid);
    auto daemon = DaemonProcess::start(path);
    ASSERT_TRUE(wait_running(daemon, {"a", "c"}));
    append_ticks(100);
    ASSERT_TRUE(caught_up("a")) << diagnose(daemon);

    // A typo as the last key of projection c: line after the valid text, column 5.
    std::string invalid = valid + "    retires: 3\n";
    auto line = static_cast<int>(std::count(valid.begin(), valid.end(), '\n')) + 1;
    write_file("sluice.yaml", invalid);
    std::size_t rejected = daemon.count_in_log("reload rejected");
    daemon.kill(SIGHUP);
    ASSERT_TRUE(daemon.wait_for_log("reload rejected", 20s, rejected + 1)) << diagnose(daemon);

    auto metrics = daemon.http_get("/metrics").body;
    EXPECT_NE(metrics.find("\nsluice_config_last_reload_success 0\n"), std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("\nsluice_config_reload_failures_total 1\n"), std::string::npos)
        << metrics;
    auto st = status(daemon);
    std::string where = path + ":" + std::to_string(line) + ":5: ";
    ASSERT_EQ(st.config_errors.size(), 1U) << diagnose(daemon);
    EXPECT_TRUE(st.config_errors[0].starts_with(where))
        << "expected an error at " << where << ", got: " << st.config_errors[0];
    EXPECT_NE(st.config_errors[0].find("retires"), std::string::npos) << st.config_errors[0];
    EXPECT_EQ(st.names(), (std::vector<std::string>{"a", "c"}));
    // ... and so does `sluice status`, under its table.
    auto cli = DaemonProcess::spawn(
        {"status", "--http", "127.0.0.1:" + std::to_string(daemon.http_port())});
    auto cli_exit = cli.wait_exit(30s);
    ASSERT_TRUE(cli_exit && cli_exit->is_exit(0)) << cli.output();
    EXPECT_NE(cli.output().find("last reload rejected (1 error); the daemon still runs the "
                                "previous configuration:\n  " +
                                st.config_errors[0] + "\n"),
              std::string::npos)
        << cli.output();

    // The old config still runs.
    append_ticks(100);
    EXPECT_TRUE(caught_up("a")) << diagnose(daemon);
    EXPECT_TRUE(caught_up("c")) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM c_applied"), 200);

    // Fixed: the next reload succeeds and clears the report.
    write_file("sluice.yaml", valid);
    std::size_t reloads = daemon.count_in_log("msg=\"configuration reloaded\"");
    daemon.kill(SIGHUP);
    ASSERT_TRUE(reloaded(daemon, "msg=\"configuration reloaded\"", reloads)) << diagnose(daemon);
    metrics = daemon.http_get("/metrics").body;
    EXPECT_NE(metrics.find("\nsluice_config_last_reload_success 1\n"), std::string::npos)
        << metrics;
    EXPECT_TRUE(status(daemon).config_errors.empty());
    auto cleared = DaemonProcess::spawn(
        {"status", "--http", "127.0.0.1:" + std::to_string(daemon.http_port())});
    ASSERT_TRUE(cleared.wait_exit(30s));
    EXPECT_EQ(cleared.output().find("reload rejected"), std::string::npos) << cleared.output();

    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(30s);
    ASSERT_TRUE(exit) << diagnose(daemon);
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe();
}

}  // namespace
}  // namespace sluice::testing
