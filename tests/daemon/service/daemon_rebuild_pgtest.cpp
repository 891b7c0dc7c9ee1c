// Blue/green rebuilds run by the daemon (`sluice rebuild NAME` asks it, over HTTP at
// http.listen or through sluice.rebuilds), with the real binary and real PostgreSQL: the
// daemon that owns the unit `NAME@next` runs it and records progress and outcome in the row; a
// daemon killed (SIGKILL) mid-build is replaced, on restart or by another instance, by one that
// resumes from the checkpoint of `NAME@next` without applying anything twice; a verify: that
// refuses keeps the live generation and shows in the row and the metric.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>

#include "daemon_fixture.hpp"
#include "generations_projection.hpp"

namespace sluice::testing {
namespace {

// sluice.rebuilds' row of p.
struct Row {
    std::string phase;
    std::string instance;
    std::int64_t done = 0;
    std::int64_t total = 0;
    std::string error;
};

class DaemonRebuild : public DaemonTest {
  protected:
    void SetUp() override {
        DaemonTest::SetUp();
        db_->migrate();
    }

    std::string config(int batch_size, const std::string& verify = "",
                       const std::string& listen = "") {
        std::string text = base_config({.batch_size = batch_size, .failover_after = "2s"});
        if (!listen.empty()) {
            auto at = text.find("127.0.0.1:0");
            text.replace(at, 11, listen);
        }
        return write_file("sluice.yaml", text + projection(verify));
    }

    std::optional<Row> row() {
        auto conn = db_->connect();
        auto r = conn.exec(
            "SELECT phase, coalesce(instance, ''), done, total, coalesce(error, '') FROM "
            "sluice.rebuilds WHERE projection = 'p'");
        if (r.rows() == 0)
            return std::nullopt;
        return Row{std::string(r.text(0, 0)), std::string(r.text(0, 1)), r.int64(0, 2),
                   r.int64(0, 3), std::string(r.text(0, 4))};
    }

    // The instance id the daemon runs as (/status "instance").
    static std::string instance_of(DaemonProcess& daemon) {
        auto root = boost::json::parse(daemon.http_get("/status").body).as_object();
        return std::string(root.at("instance").as_string());
    }

    std::int64_t live_table() { return scalar("SELECT 'p_read.p_applied'::regclass::oid::bigint"); }

    CommandResult sluice(const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = 180s) {
        std::vector<std::string> argv{sluice_binary()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv, timeout);
    }

    // Until no session of a killed process is left (its backend finishes what it was doing).
    bool rebuild_sessions_ended() {
        return wait_until(
            [&] {
                return scalar(
                           "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                           "'sluice rebuild'") == 0;
            },
            30s);
    }

    void expect_live_equals_recomputation(const std::string& when) {
        EXPECT_EQ(scalar("SELECT count(*) FROM p_read.p_applied"),
                  scalar("SELECT count(*) FROM events"))
            << when;
        EXPECT_EQ(differences("SELECT g, events, total FROM p_read.p_summary", recomputed), 0)
            << "the live read model differs from a recomputation over the events " << when;
    }

    // Waits for the row to end, checking on the way that `done` never goes back below `floor`.
    bool wait_ended(std::int64_t floor, std::chrono::milliseconds timeout, std::string& why) {
        return wait_until(
            [&] {
                auto r = row();
                if (r && r->done < floor && r->phase != "requested") {
                    why += "done went back to " + std::to_string(r->done) + " (was " +
                           std::to_string(floor) + "); ";
                }
                return r &&
                       (r->phase == "done" || r->phase == "failed" || r->phase == "verify_failed");
            },
            timeout);
    }
};

TEST_F(DaemonRebuild, SluiceRebuildAsksTheRunningDaemonOverHttpAndItRunsTheRebuild) {
    append_ticks(3000);
    const std::string listen = "127.0.0.1:" + std::to_string(free_port());
    auto cfg = config(500, "", listen);
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
    const auto instance = instance_of(daemon);
    const auto live = live_table();

    auto rebuilt = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(rebuilt.status.is_exit(0)) << rebuilt.output << diagnose(daemon);
    EXPECT_NE(rebuilt.output.find("asked of the running daemon at " + listen), std::string::npos)
        << rebuilt.output;
    EXPECT_NE(rebuilt.output.find("is live in schema p_read"), std::string::npos) << rebuilt.output;
    auto r = row();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->phase, "done");
    EXPECT_EQ(r->instance, instance) << "another than the running daemon ran the rebuild";
    EXPECT_EQ(r->done, 3000);
    EXPECT_EQ(r->total, 3000);
    EXPECT_TRUE(daemon.wait_for_log("rebuild taken up", 1s)) << diagnose(daemon);
    EXPECT_NE(live_table(), live) << "no new generation was swapped in";
    // The live runner goes on into the new generation.
    // Restarted after the swap (by the swap's own restart, or, when the coordinator's round
    // came first, started again by it while the restart drained it).
    EXPECT_TRUE(wait_until(
        [&] {
            return daemon.count_in_log("subscriber restarted after a swap") +
                       daemon.count_in_log("msg=\"subscriber started\"") >=
                   2;
        },
        10s))
        << diagnose(daemon);
    append_ticks(200);
    ASSERT_TRUE(wait_checkpoint("p", head(), 30s)) << diagnose(daemon);
    expect_live_equals_recomputation("after the daemon's rebuild");

    // /status shows how it ended.
    auto st = boost::json::parse(daemon.http_get("/status").body).as_object();
    const auto& rebuilds = st.at("rebuilds").as_array();
    ASSERT_EQ(rebuilds.size(), 1U) << st;
    EXPECT_EQ(rebuilds[0].as_object().at("phase").as_string(), "done") << st;
    EXPECT_EQ(rebuilds[0].as_object().at("instance").as_string(), instance) << st;
    ASSERT_TRUE(daemon.terminate().is_exit(0)) << diagnose(daemon);
}

TEST_F(DaemonRebuild, TheDaemonRefusesAProjectionItsConfigDoesNotHave) {
    const std::string listen = "127.0.0.1:" + std::to_string(free_port());
    auto cfg = config(500, "", listen);
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_running(daemon, {"p"}));
    // The command's config has a projection q that the running daemon's does not (not
    // reloaded): the daemon answers 404 and the command says so, asking nothing.
    std::string text = base_config({.batch_size = 500});
    text.replace(text.find("127.0.0.1:0"), 11, listen);
    auto other = write_file("other.yaml", text + projection() +
                                              "  - name: q\n    schema: q_read\n    handlers:\n"
                                              "      Tick: SELECT 1\n");
    auto refused = sluice({"rebuild", "q", "-c", other, "--yes"});
    EXPECT_TRUE(refused.status.is_exit(2)) << refused.output;
    EXPECT_NE(refused.output.find("the daemon's config has no projection q"), std::string::npos)
        << refused.output;
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.rebuilds"), 0);
    ASSERT_TRUE(daemon.terminate().is_exit(0)) << diagnose(daemon);
}

TEST_F(DaemonRebuild, ADaemonKilledDuringTheBuildResumesItOnRestartWithoutStartingOver) {
    constexpr std::int64_t backlog = 60000;
    append_ticks(backlog);
    auto cfg = config(10);  // tiny batches: the build is caught in the middle
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_checkpoint("p", head(), 120s)) << diagnose(daemon);
    const auto live = live_table();
    const auto live_at = checkpoint("p");

    // No reachable HTTP endpoint (port 0): the request goes through sluice.rebuilds.
    auto asked = sluice({"rebuild", "p", "-c", cfg, "--yes", "--no-wait"});
    ASSERT_TRUE(asked.status.is_exit(0)) << asked.output;
    EXPECT_NE(asked.output.find("requested"), std::string::npos) << asked.output;
    ASSERT_TRUE(wait_until(
        [&] {
            auto r = row();
            return r && r->phase == "building" && r->done > 0;
        },
        60s))
        << "the daemon did not build the next generation\n"
        << diagnose(daemon);
    daemon.kill(SIGKILL);
    ASSERT_TRUE(daemon.wait_exit(10s));
    ASSERT_TRUE(rebuild_sessions_ended()) << "the killed daemon's rebuild session stayed";
    const auto killed_at = checkpoint("p@next");
    ASSERT_TRUE(killed_at);
    ASSERT_LT(killed_at->id, backlog) << "the build had finished before the kill";
    const auto killed = row();
    ASSERT_TRUE(killed);
    EXPECT_EQ(killed->phase, "building");
    EXPECT_EQ(live_table(), live) << "the live generation changed before a swap";
    EXPECT_EQ(checkpoint("p"), live_at);
    EXPECT_EQ(scalar("SELECT count(*) FROM p_read__next.p_applied"), killed_at->id);

    auto restarted = DaemonProcess::start(cfg);
    std::string why;
    ASSERT_TRUE(wait_ended(killed->done, 180s, why)) << diagnose(restarted);
    EXPECT_EQ(why, "") << "the resumed rebuild started over";
    auto r = row();
    EXPECT_EQ(r->phase, "done") << r->error;
    EXPECT_TRUE(restarted.wait_for_log("resuming the next generation from its checkpoint", 1s))
        << diagnose(restarted);
    EXPECT_FALSE(restarted.wait_for_log("building the next generation beside", 1s))
        << "the restarted daemon built the next generation afresh";
    EXPECT_NE(live_table(), live);
    ASSERT_TRUE(wait_checkpoint("p", head(), 30s)) << diagnose(restarted);
    expect_live_equals_recomputation("after the resumed rebuild");
    ASSERT_TRUE(restarted.terminate().is_exit(0)) << diagnose(restarted);
}

TEST_F(DaemonRebuild, AnotherInstanceTakesTheRebuildOverWhenItsOwnerIsKilled) {
    constexpr std::int64_t backlog = 60000;
    append_ticks(backlog);
    auto cfg = config(10);  // tiny batches: the build is caught in the middle
    auto a = DaemonProcess::start(cfg);
    auto b = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_checkpoint("p", head(), 120s)) << diagnose(a);

    auto asked = sluice({"rebuild", "p", "-c", cfg, "--yes", "--no-wait"});
    ASSERT_TRUE(asked.status.is_exit(0)) << asked.output;
    ASSERT_TRUE(wait_until(
        [&] {
            auto r = row();
            return r && r->phase == "building" && r->done > 0;
        },
        60s))
        << "no instance built the next generation\n"
        << diagnose(a) << diagnose(b);
    const auto owner = row()->instance;
    const std::string owner_pid =
        owner.substr(owner.find(':') + 1, owner.rfind(':') - owner.find(':') - 1);
    DaemonProcess& killed = std::to_string(a.pid()) == owner_pid ? a : b;
    DaemonProcess& survivor = &killed == &a ? b : a;
    killed.kill(SIGKILL);
    ASSERT_TRUE(killed.wait_exit(10s));
    const auto killed_done = row()->done;

    std::string why;
    ASSERT_TRUE(wait_ended(killed_done, 180s, why)) << diagnose(survivor);
    EXPECT_EQ(why, "") << "the rebuild started over on the other instance";
    auto r = row();
    EXPECT_EQ(r->phase, "done") << r->error;
    EXPECT_NE(r->instance, owner) << "the killed instance is still recorded as the runner";
    EXPECT_EQ(r->instance, instance_of(survivor));
    EXPECT_TRUE(survivor.wait_for_log("resuming the next generation from its checkpoint", 1s))
        << diagnose(survivor);
    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(survivor);
    expect_live_equals_recomputation("after the rebuild finished by the other instance");
    ASSERT_TRUE(survivor.terminate().is_exit(0)) << diagnose(survivor);
}

TEST_F(DaemonRebuild, SigtermStopsARunningRebuildBetweenBatchesAndItResumesLater) {
    constexpr std::int64_t backlog = 60000;
    append_ticks(backlog);
    auto cfg = config(10);  // tiny batches: the build is caught in the middle
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_checkpoint("p", head(), 120s)) << diagnose(daemon);
    const auto live = live_table();

    auto asked = sluice({"rebuild", "p", "-c", cfg, "--yes", "--no-wait"});
    ASSERT_TRUE(asked.status.is_exit(0)) << asked.output;
    ASSERT_TRUE(wait_until(
        [&] {
            auto r = row();
            return r && r->phase == "building" && r->done > 0;
        },
        60s))
        << diagnose(daemon);
    const auto started = std::chrono::steady_clock::now();
    const auto stopped = daemon.terminate(10s);
    EXPECT_TRUE(stopped.is_exit(0)) << diagnose(daemon);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 8s) << "SIGTERM did not stop it promptly";
    EXPECT_TRUE(daemon.wait_for_log("rebuild stopped between two batches", 1s)) << diagnose(daemon);
    ASSERT_TRUE(rebuild_sessions_ended());
    const auto left = row();
    ASSERT_TRUE(left);
    EXPECT_EQ(left->phase, "building");
    ASSERT_LT(checkpoint("p@next")->id, backlog) << "the build had finished before SIGTERM";
    EXPECT_EQ(live_table(), live);

    auto restarted = DaemonProcess::start(cfg);
    std::string why;
    ASSERT_TRUE(wait_ended(left->done, 180s, why)) << diagnose(restarted);
    EXPECT_EQ(why, "");
    EXPECT_EQ(row()->phase, "done") << row()->error;
    EXPECT_TRUE(restarted.wait_for_log("resuming the next generation from its checkpoint", 1s))
        << diagnose(restarted);
    ASSERT_TRUE(wait_checkpoint("p", head(), 30s)) << diagnose(restarted);
    expect_live_equals_recomputation("after the rebuild resumed after SIGTERM");
    ASSERT_TRUE(restarted.terminate().is_exit(0)) << diagnose(restarted);
}

TEST_F(DaemonRebuild, AHandlerThatFailsEndsTheRebuildInFailedNamingTheEventAndSqlstate) {
    append_ticks(3000);
    auto cfg = config(500);
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
    const auto live = live_table();
    // The new handlers divide by zero on event 1500 (already applied live: only the rebuild
    // meets it); the daemon takes them on reload.
    std::string text = base_config({.batch_size = 500, .failover_after = "2s"}) + projection();
    const std::string insert = "INSERT INTO p_applied VALUES (:id);";
    text.replace(text.find(insert), insert.size(),
                 "INSERT INTO p_applied VALUES (:id / CASE WHEN :id = 1500 THEN 0 ELSE 1 END);");
    write_file("sluice.yaml", text);
    daemon.kill(SIGHUP);
    ASSERT_TRUE(daemon.wait_for_log("configuration reloaded", 10s)) << diagnose(daemon);

    auto failed = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    EXPECT_TRUE(failed.status.is_exit(1)) << failed.output;
    auto r = row();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->phase, "failed");
    EXPECT_NE(r->error.find("rebuild of projection p failed"), std::string::npos) << r->error;
    EXPECT_NE(r->error.find("event id 1500"), std::string::npos) << r->error;
    EXPECT_NE(r->error.find("SQLSTATE 22012"), std::string::npos) << r->error;
    EXPECT_NE(failed.output.find("event id 1500"), std::string::npos) << failed.output;
    EXPECT_EQ(live_table(), live) << "a failed rebuild swapped";
    ASSERT_TRUE(daemon.terminate().is_exit(0)) << diagnose(daemon);
}

TEST_F(DaemonRebuild, AVerifyThatRefusesEndsInVerifyFailedAndTheMetricSaysSo) {
    append_ticks(2000);
    // True only for a generation with fewer rows than the live one: never here.
    auto cfg =
        config(1000, "SELECT count(*) < (SELECT count(*) FROM p_read.p_applied) FROM p_applied");
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
    const auto live = live_table();

    auto refused = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    EXPECT_TRUE(refused.status.is_exit(1)) << refused.output;
    EXPECT_NE(refused.output.find("stopped before the swap: verify it returned false"),
              std::string::npos)
        << refused.output;
    auto r = row();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->phase, "verify_failed");
    EXPECT_NE(r->error.find("verify it returned false"), std::string::npos) << r->error;
    EXPECT_EQ(live_table(), live) << "a generation that failed verify was swapped in";
    EXPECT_TRUE(wait_until(
        [&] {
            return daemon.http_get("/metrics")
                       .body.find("sluice_rebuild_verify_failed{projection=\"p\"} 1") !=
                   std::string::npos;
        },
        10s))
        << daemon.http_get("/metrics").body;
    auto st = sluice({"status", "-c", cfg}, 30s);
    EXPECT_NE(st.output.find("rebuild of p: verify_failed"), std::string::npos) << st.output;
    ASSERT_TRUE(daemon.terminate().is_exit(0)) << diagnose(daemon);
}

}  // namespace
}  // namespace sluice::testing
