// Blue/green rebuilds of a projection that owns a schema (`sluice rebuild NAME`, `sluice
// rollback NAME`) with the real binary, beside a running daemon: readers never see the read
// model shrink while the next generation is built and swapped in, the result equals a fresh
// computation over the events, and the daemon's cached plans write into the generation that is
// live after the swap. A rebuild killed (SIGKILL) while it builds or while it swaps leaves the
// live generation as it was and resumes when run again; a verify: that fails keeps the old
// generation live; a rollback catches the previous generation up and swaps it back in.
#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <thread>

#include "daemon_fixture.hpp"
#include "event_writer.hpp"
#include "generations_projection.hpp"

namespace sluice::testing {
namespace {

// Counts the live read model's rows every 10 ms on its own connection and remembers the fewest
// it saw and any query that failed (a reader must never find the table missing).
class Reader {
  public:
    explicit Reader(std::string url) : url_(std::move(url)), thread_([this] { run(); }) {}
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    ~Reader() { stop(); }

    void stop() {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    [[nodiscard]] std::int64_t fewest() const { return fewest_.load(); }
    [[nodiscard]] std::int64_t reads() const { return reads_.load(); }
    [[nodiscard]] const std::string& error() const { return error_; }  // after stop()

  private:
    void run() {
        try {
            auto conn = pg::Connection::open(url_, 10, "blue/green test reader");
            while (!stop_) {
                auto n = conn.exec("SELECT count(*) FROM p_read.p_applied").int64(0, 0);
                if (n < fewest_.load())
                    fewest_ = n;
                ++reads_;
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        } catch (const std::exception& e) {
            error_ = e.what();
        }
    }

    std::string url_;
    std::atomic<bool> stop_{false};
    std::atomic<std::int64_t> fewest_{std::numeric_limits<std::int64_t>::max()};
    std::atomic<std::int64_t> reads_{0};
    std::string error_;  // written by the thread, read after join
    // Last: the thread uses everything above.
    std::thread thread_;
};

class BlueGreen : public DaemonTest {
  protected:
    void SetUp() override {
        DaemonTest::SetUp();
        db_->migrate();
    }

    std::string config(int batch_size, const std::string& verify = "") {
        return write_file("sluice.yaml",
                          base_config({.batch_size = batch_size}) + projection(verify));
    }

    // The live generation's table, by identity: a swap renames schemas, so the OID behind the
    // name says which generation is live.
    std::int64_t live_table() { return scalar("SELECT 'p_read.p_applied'::regclass::oid::bigint"); }

    bool schema_exists(const std::string& schema) {
        return scalar("SELECT count(*) FROM pg_namespace WHERE nspname = $1", pg::Params(schema)) ==
               1;
    }

    // A killed CLI's backend finishes the statement in flight (and may commit it) before it
    // notices; what it left is read only after it ended.
    bool rebuild_session_ended() {
        return wait_until(
            [&] {
                return scalar(
                           "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                           "'sluice rebuild'") == 0;
            },
            30s);
    }

    // Runs the CLI to its end (bounded).
    CommandResult sluice(const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = 180s) {
        std::vector<std::string> argv{sluice_binary()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv, timeout);
    }

    void expect_live_equals_recomputation(const std::string& when) {
        EXPECT_EQ(scalar("SELECT count(*) FROM p_read.p_applied"),
                  scalar("SELECT count(*) FROM events"))
            << when;
        EXPECT_EQ(differences("SELECT g, events, total FROM p_read.p_summary", recomputed), 0)
            << "the live read model differs from a recomputation over the events " << when;
    }
};

TEST_F(BlueGreen, SwapsANewGenerationInWhileWritersAndReadersGoOn) {
    constexpr std::int64_t backlog = 200000;
    append_ticks(backlog);
    auto cfg = config(1000);
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_running(daemon, {"p"}));
    ASSERT_TRUE(wait_checkpoint("p", head(), 120s)) << diagnose(daemon);
    const auto old_generation = live_table();

    EventWriter writer(db_->url(), 1000000, 2);  // about 500 events a second
    ASSERT_TRUE(writer.wait_appended(200, 10s)) << writer.error();
    const auto before = scalar("SELECT count(*) FROM p_read.p_applied");
    Reader reader(db_->url());
    ASSERT_TRUE(wait_until([&] { return reader.reads() > 0; }, 10s)) << "the reader never read";

    auto rebuilt = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(rebuilt.status.is_exit(0)) << rebuilt.status.describe() << "\n" << rebuilt.output;
    EXPECT_NE(rebuilt.output.find("is live in schema p_read"), std::string::npos) << rebuilt.output;
    EXPECT_NE(rebuilt.output.find("events (100%)"), std::string::npos)
        << "no progress line for the backlog\n"
        << rebuilt.output;
    EXPECT_NE(live_table(), old_generation) << "the swap did not bring a new generation in";
    EXPECT_TRUE(schema_exists("p_read__previous"));
    EXPECT_FALSE(schema_exists("p_read__next"));

    // The daemon goes on writing, into the new generation: its functions' cached plans were
    // made against the old one.
    ASSERT_TRUE(writer.wait_appended(writer.appended() + 1000, 20s)) << writer.error();
    reader.stop();
    std::int64_t written = writer.stop();
    ASSERT_TRUE(writer.error().empty()) << writer.error();
    ASSERT_TRUE(reader.error().empty()) << "a reader's query failed: " << reader.error();
    EXPECT_GT(reader.reads(), 100) << "the reader hardly read during the rebuild";
    EXPECT_GE(reader.fewest(), before)
        << "a reader saw fewer rows than the read model had before the rebuild";
    std::cout << "reader: " << reader.reads() << " reads, fewest rows " << reader.fewest()
              << " (before the rebuild: " << before << ")\n";

    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
    ASSERT_EQ(scalar("SELECT count(*) FROM events"), backlog + written);
    expect_live_equals_recomputation("after the swap");
    // Each generation's checkpoint row went with it, applied-event counter and all.
    auto verified = sluice({"verify", "p", "-c", cfg});
    EXPECT_TRUE(verified.status.is_exit(0)) << verified.output;
    // Nothing went into the generation that went out after it went out.
    auto previous_at = checkpoint("p@previous");
    ASSERT_TRUE(previous_at) << "the previous generation's checkpoint was not kept";
    EXPECT_EQ(scalar("SELECT coalesce(max(event_id), 0) FROM p_read__previous.p_applied"),
              previous_at->id)
        << "the daemon wrote into the previous generation after the swap";
    EXPECT_LT(previous_at->id, head().id);
    auto st = status(daemon);
    EXPECT_EQ(st.subscriber("p")->state, "running") << diagnose(daemon);
    EXPECT_EQ(st.subscriber("p")->errors, 0U) << diagnose(daemon);
    ASSERT_TRUE(daemon.terminate().is_exit(0)) << diagnose(daemon);
}

TEST_F(BlueGreen, AKilledBuildLeavesTheLiveGenerationAloneAndResumes) {
    constexpr std::int64_t backlog = 60000;
    append_ticks(backlog);
    auto cfg = config(100);  // small batches: the build takes long enough to be caught in it
    {
        auto daemon = DaemonProcess::start(cfg);
        ASSERT_TRUE(wait_checkpoint("p", head(), 120s)) << diagnose(daemon);
        ASSERT_TRUE(daemon.terminate().is_exit(0));
    }
    const auto live = live_table();
    const auto live_at = checkpoint("p");

    auto rebuild = DaemonProcess::spawn({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(wait_until(
        [&] {
            auto at = checkpoint("p@next");
            return at && at->id > 5000;
        },
        60s))
        << "the next generation did not advance\n"
        << rebuild.output_tail();
    rebuild.kill(SIGKILL);
    ASSERT_TRUE(rebuild.wait_exit(10s));
    ASSERT_TRUE(rebuild_session_ended()) << "the killed rebuild's session stayed";
    const auto killed_at = checkpoint("p@next");
    ASSERT_TRUE(killed_at);
    ASSERT_LT(killed_at->id, backlog) << "the build had finished before the kill";

    EXPECT_EQ(live_table(), live) << "the live generation changed before a swap";
    EXPECT_EQ(checkpoint("p"), live_at);
    EXPECT_EQ(scalar("SELECT count(*) FROM p_read.p_applied"), backlog);
    EXPECT_EQ(scalar("SELECT count(*) FROM p_read__next.p_applied"), killed_at->id)
        << "the next generation's rows and its checkpoint disagree";

    auto resumed = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(resumed.status.is_exit(0)) << resumed.output;
    EXPECT_NE(resumed.output.find("resuming the next generation from its checkpoint"),
              std::string::npos)
        << resumed.output;
    EXPECT_NE(
        resumed.output.find("replayed " + std::to_string(backlog - killed_at->id) + " events"),
        std::string::npos)
        << "the resumed build did not go on from the checkpoint\n"
        << resumed.output;
    EXPECT_NE(live_table(), live);
    expect_live_equals_recomputation("after the resumed rebuild");
}

TEST_F(BlueGreen, ASwapKilledHalfwayChangesNothingAndTheNextRunSwaps) {
    append_ticks(3000);
    auto cfg = config(1000);
    {
        auto daemon = DaemonProcess::start(cfg);
        ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
        ASSERT_TRUE(daemon.terminate().is_exit(0));
    }
    const auto live = live_table();
    const auto live_at = checkpoint("p");

    // Holding the live checkpoint's row stops the swap after it renamed the schemas, where it
    // moves that checkpoint: it waits there (lock_timeout, then again) until it is killed.
    auto blocker = db_->connect();
    blocker.exec("BEGIN");
    blocker.exec("SELECT 1 FROM sluice.checkpoints WHERE name = 'p' FOR UPDATE");
    auto rebuild = DaemonProcess::spawn({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(wait_until(
        [&] {
            return scalar(
                       "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                       "'sluice rebuild' AND wait_event_type = 'Lock' AND query LIKE "
                       "'UPDATE sluice.checkpoints SET name%'") == 1;
        },
        60s))
        << "the swap never reached the checkpoint move\n"
        << rebuild.output_tail();
    rebuild.kill(SIGKILL);
    ASSERT_TRUE(rebuild.wait_exit(10s));
    // Its backend ends when it notices (at the latest when its lock_timeout ends).
    ASSERT_TRUE(wait_until(
        [&] {
            return scalar(
                       "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                       "'sluice rebuild'") == 0;
        },
        30s))
        << "the killed rebuild's session stayed";
    blocker.exec("ROLLBACK");

    auto st = sluice({"status", "-c", cfg}, 30s);
    EXPECT_NE(st.output.find("rebuild of p: interrupted while swapping (sluice rebuild p goes on "
                             "from where it stopped"),
              std::string::npos)
        << st.output;
    EXPECT_EQ(live_table(), live) << "a killed swap left the schemas renamed";
    EXPECT_EQ(checkpoint("p"), live_at);
    EXPECT_FALSE(schema_exists("p_read__previous"));
    EXPECT_TRUE(schema_exists("p_read__next")) << "the built generation was lost";

    auto again = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(again.status.is_exit(0)) << again.output;
    EXPECT_NE(again.output.find("resuming the next generation"), std::string::npos) << again.output;
    EXPECT_NE(live_table(), live);
    expect_live_equals_recomputation("after the swap ran again");
}

// The phase of a rebuild in /status: {"projection","command","phase","running"}; "" when the
// daemon shows none for p.
std::string rebuild_phase(DaemonProcess& daemon) {
    auto root = boost::json::parse(daemon.http_get("/status").body).as_object();
    for (const auto& item : root.at("rebuilds").as_array()) {
        const auto& r = item.as_object();
        if (r.at("projection").as_string() == "p" && r.at("running").as_bool())
            return std::string(r.at("command").as_string()) + " " +
                   std::string(r.at("phase").as_string());
    }
    return "";
}

TEST_F(BlueGreen, ASwapWaitsForTheSubscriberLockAndStatusShowsItSwapping) {
    append_ticks(2000);
    auto cfg = config(1000);
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
    const auto live = live_table();

    // Another session holds the projection (as a parked retry or a rebuild would): the swap
    // waits for it in short lock_timeout stretches.
    auto holder = db_->connect();
    holder.exec("SELECT pg_advisory_lock(sluice.subscriber_lock_key('p'))");
    auto rebuild = DaemonProcess::spawn({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(wait_until([&] { return rebuild_phase(daemon) == "rebuild swapping"; }, 30s))
        << "/status never showed the rebuild swapping\n"
        << rebuild.output_tail();
    auto st = sluice({"status", "-c", cfg}, 30s);
    EXPECT_NE(st.output.find("rebuild of p (generation p@next): swapping (for "), std::string::npos)
        << st.output;
    EXPECT_TRUE(rebuild.running()) << rebuild.output_tail();
    EXPECT_EQ(live_table(), live) << "swapped while another session held the projection";

    // The daemon runs it (sluice rebuild asked it to): its swap waits in lock_timeout stretches.
    ASSERT_TRUE(daemon.wait_for_log("waiting for locks; trying again", 30s)) << diagnose(daemon);
    holder.exec("SELECT pg_advisory_unlock(sluice.subscriber_lock_key('p'))");
    auto exit = rebuild.wait_exit(60s);
    ASSERT_TRUE(exit && exit->is_exit(0)) << rebuild.output_tail();
    EXPECT_NE(live_table(), live);
    ASSERT_TRUE(wait_until([&] { return rebuild_phase(daemon).empty(); }, 30s))
        << "/status still shows a finished rebuild";
    append_ticks(100);
    ASSERT_TRUE(wait_checkpoint("p", head(), 30s)) << diagnose(daemon);
    expect_live_equals_recomputation("after a swap that waited");
    ASSERT_TRUE(daemon.terminate().is_exit(0));
}

TEST_F(BlueGreen, AFailingVerifyKeepsTheOldGenerationLive) {
    append_ticks(2000);
    // True only for a generation that has fewer rows than the live one: never here.
    auto cfg = config(1000,
                      "SELECT count(*) < (SELECT count(*) FROM p_read.p_applied) FROM "
                      "p_applied");
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
    const auto live = live_table();

    auto refused = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    EXPECT_TRUE(refused.status.is_exit(1)) << refused.status.describe() << "\n" << refused.output;
    EXPECT_NE(refused.output.find("stopped before the swap: verify it returned false; the live "
                                  "generation stays in schema p_read"),
              std::string::npos)
        << refused.output;
    EXPECT_EQ(live_table(), live) << "a generation that failed verify was swapped in";
    EXPECT_TRUE(schema_exists("p_read__next")) << "the refused generation was not kept";
    EXPECT_FALSE(schema_exists("p_read__previous"));

    // The daemon keeps the old generation current.
    append_ticks(500);
    ASSERT_TRUE(wait_checkpoint("p", head(), 30s)) << diagnose(daemon);
    EXPECT_EQ(live_table(), live);
    expect_live_equals_recomputation("after the refused swap");
    ASSERT_TRUE(daemon.terminate().is_exit(0));
}

TEST_F(BlueGreen, RollbackCatchesThePreviousGenerationUpAndSwapsItBack) {
    append_ticks(4000);
    auto cfg = config(500);
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
    const auto first = live_table();

    auto rebuilt = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(rebuilt.status.is_exit(0)) << rebuilt.output;
    const auto second = live_table();
    ASSERT_NE(second, first);

    // Events the previous generation has not seen yet.
    append_ticks(1500);
    ASSERT_TRUE(wait_checkpoint("p", head(), 30s)) << diagnose(daemon);
    auto previous_at = checkpoint("p@previous");
    ASSERT_TRUE(previous_at);
    ASSERT_LT(previous_at->id, head().id);

    auto rolled = sluice({"rollback", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(rolled.status.is_exit(0)) << rolled.output;
    EXPECT_NE(rolled.output.find("caught up by 1500 events"), std::string::npos) << rolled.output;
    EXPECT_EQ(live_table(), first) << "the previous generation is not live again";
    EXPECT_EQ(scalar("SELECT 'p_read__previous.p_applied'::regclass::oid::bigint"), second);
    expect_live_equals_recomputation("right after the rollback");

    // The daemon goes on in the rolled-back generation.
    append_ticks(700);
    ASSERT_TRUE(wait_checkpoint("p", head(), 30s)) << diagnose(daemon);
    expect_live_equals_recomputation("after the rollback, with the daemon going on");
    auto verified = sluice({"verify", "p", "-c", cfg});
    EXPECT_TRUE(verified.status.is_exit(0)) << verified.output;
    EXPECT_EQ(status(daemon).subscriber("p")->errors, 0U) << diagnose(daemon);

    auto dropped = sluice({"rebuild", "p", "-c", cfg, "--drop-previous", "--yes"});
    ASSERT_TRUE(dropped.status.is_exit(0)) << dropped.output;
    EXPECT_FALSE(schema_exists("p_read__previous"));
    EXPECT_FALSE(checkpoint("p@previous"));
    auto none = sluice({"rollback", "p", "-c", cfg, "--yes"});
    EXPECT_TRUE(none.status.is_exit(2)) << none.output;
    EXPECT_NE(none.output.find("has no previous generation"), std::string::npos) << none.output;
    ASSERT_TRUE(daemon.terminate().is_exit(0));
}

// A partitioned projection: the next generation is built whole, then each part takes it over
// at the swap; the parts' checkpoints go out with the old generation, and a rollback catches
// each of them up and brings them back.
TEST_F(BlueGreen, APartitionedProjectionIsRebuiltBesideTheLiveOneAndRolledBack) {
    constexpr int parts = 3;
    append_ticks(6000);
    std::string yaml = base_config({.batch_size = 500}) + projection();
    yaml.replace(yaml.find("    schema: p_read\n"), 19, "    schema: p_read\n    partitions: 3\n");
    auto cfg = write_file("sluice.yaml", yaml);
    auto daemon = DaemonProcess::start(cfg);
    const auto part = [](int i) { return "p[" + std::to_string(i) + "/3]"; };
    const auto parts_at_head = [&](const std::string& prefix, std::chrono::seconds within) {
        for (int i = 1; i <= parts; ++i) {
            if (!wait_checkpoint(prefix + "[" + std::to_string(i) + "/3]", head(), within))
                return false;
        }
        return true;
    };
    ASSERT_TRUE(parts_at_head("p", 60s)) << diagnose(daemon);
    const auto first = live_table();

    EventWriter writer(db_->url(), 1000000, 2);
    ASSERT_TRUE(writer.wait_appended(200, 10s)) << writer.error();
    auto rebuilt = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(rebuilt.status.is_exit(0)) << rebuilt.status.describe() << "\n" << rebuilt.output;
    const auto second = live_table();
    EXPECT_NE(second, first) << "the swap did not bring a new generation in";
    EXPECT_FALSE(checkpoint("p")) << "the whole build's checkpoint was not split into the parts";
    EXPECT_FALSE(checkpoint("p@next"));
    for (int i = 1; i <= parts; ++i) {
        EXPECT_TRUE(checkpoint(part(i))) << part(i);
        EXPECT_TRUE(checkpoint("p@previous[" + std::to_string(i) + "/3]"))
            << "the outgoing generation's part " << i << " was not kept for a rollback";
    }
    ASSERT_TRUE(writer.wait_appended(writer.appended() + 500, 20s)) << writer.error();
    writer.stop();
    ASSERT_TRUE(writer.error().empty()) << writer.error();
    ASSERT_TRUE(parts_at_head("p", 60s)) << diagnose(daemon);
    expect_live_equals_recomputation("after the swap");
    auto verified = sluice({"verify", "p", "-c", cfg});
    EXPECT_TRUE(verified.status.is_exit(0)) << verified.output;

    append_ticks(900);  // events the previous generation has not seen
    ASSERT_TRUE(parts_at_head("p", 30s)) << diagnose(daemon);
    auto rolled = sluice({"rollback", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(rolled.status.is_exit(0)) << rolled.status.describe() << "\n" << rolled.output;
    EXPECT_EQ(live_table(), first) << "the previous generation is not live again";
    expect_live_equals_recomputation("right after the rollback");
    append_ticks(300);
    ASSERT_TRUE(parts_at_head("p", 30s)) << diagnose(daemon);
    expect_live_equals_recomputation("after the rollback, with the daemon going on");
    verified = sluice({"verify", "p", "-c", cfg});
    EXPECT_TRUE(verified.status.is_exit(0)) << verified.output;
    for (int i = 1; i <= parts; ++i)
        EXPECT_EQ(status(daemon).subscriber(part(i))->state, "running") << diagnose(daemon);
    ASSERT_TRUE(daemon.terminate().is_exit(0)) << diagnose(daemon);
}

// The number of parts changes without downtime: the daemon, reloaded with the new count, waits
// (progress is stored under the old one) while readers keep the old generation; the rebuild
// swaps in one split the new way.
TEST_F(BlueGreen, ARebuildMovesAProjectionToANewNumberOfParts) {
    append_ticks(3000);
    std::string yaml = base_config({.batch_size = 500}) + projection();
    const auto with_parts = [&](int n) {
        std::string y = yaml;
        y.replace(y.find("    schema: p_read\n"), 19,
                  "    schema: p_read\n    partitions: " + std::to_string(n) + "\n");
        return y;
    };
    auto cfg = write_file("sluice.yaml", with_parts(2));
    auto daemon = DaemonProcess::start(cfg);
    ASSERT_TRUE(wait_checkpoint("p[1/2]", head(), 60s)) << diagnose(daemon);
    ASSERT_TRUE(wait_checkpoint("p[2/2]", head(), 60s)) << diagnose(daemon);

    write_file("sluice.yaml", with_parts(3));
    daemon.kill(SIGHUP);
    ASSERT_TRUE(daemon.wait_for_log("progress stored under another partitioning", 30s))
        << diagnose(daemon);
    append_ticks(400);
    auto rebuilt = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(rebuilt.status.is_exit(0)) << rebuilt.status.describe() << "\n" << rebuilt.output;
    for (int i = 1; i <= 3; ++i) {
        const std::string part = "p[" + std::to_string(i) + "/3]";
        ASSERT_TRUE(wait_checkpoint(part, head(), 60s)) << part << "\n" << diagnose(daemon);
    }
    EXPECT_FALSE(checkpoint("p[1/2]")) << "the old parts stayed live";
    EXPECT_TRUE(checkpoint("p@previous[1/2]")) << "the old parts went out with their generation";
    expect_live_equals_recomputation("after the swap to three parts");
    auto verified = sluice({"verify", "p", "-c", cfg});
    EXPECT_TRUE(verified.status.is_exit(0)) << verified.output;
    auto refused = sluice({"rollback", "p", "-c", cfg, "--yes"});
    EXPECT_FALSE(refused.status.is_exit(0)) << refused.output;
    EXPECT_NE(refused.output.find("has 2 partition(s) and the config 3"), std::string::npos)
        << refused.output;
    ASSERT_TRUE(daemon.terminate().is_exit(0)) << diagnose(daemon);
}

TEST_F(BlueGreen, EachGenerationKeepsTheUpcastersItWasBuiltThrough) {
    append_ticks(500);
    auto plain = config(1000);
    {
        auto daemon = DaemonProcess::start(plain);
        ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
        ASSERT_TRUE(daemon.terminate().is_exit(0));
    }
    // The same projection read through an upcaster of its event type: a rebuild is due.
    auto upcast =
        write_file("upcast.yaml", base_config({.batch_size = 1000}) + projection() +
                                      "upcasters:\n  - event_type: Tick\n    payload: :payload || "
                                      "jsonb_build_object('n', (:payload->>'n')::bigint * 2)\n");
    auto fingerprint = [&](const std::string& name) {
        return scalar(
            "SELECT count(*) FROM sluice.projection_upcasters WHERE projection = $1 "
            "AND fingerprint <> ''",
            pg::Params(name));
    };
    auto rebuilt = sluice({"rebuild", "p", "-c", upcast, "--yes"});
    ASSERT_TRUE(rebuilt.status.is_exit(0)) << rebuilt.output;
    EXPECT_EQ(fingerprint("p"), 1) << "the live generation's upcasters were not recorded";
    EXPECT_EQ(fingerprint("p@previous"), 0);
    EXPECT_EQ(differences("SELECT g, events, total FROM p_read.p_summary",
                          "SELECT (payload->>'g')::int, count(*), 2 * sum((payload->>'n')::bigint) "
                          "FROM events GROUP BY 1"),
              0)
        << "the new generation was not built through the upcaster";

    // Back to the generation built without it, under the config without it: the daemon goes on.
    auto rolled = sluice({"rollback", "p", "-c", plain, "--yes"});
    ASSERT_TRUE(rolled.status.is_exit(0)) << rolled.output;
    EXPECT_EQ(fingerprint("p"), 0);
    EXPECT_EQ(fingerprint("p@previous"), 1);
    auto daemon = DaemonProcess::start(plain);
    append_ticks(200);
    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
    expect_live_equals_recomputation("after rolling back to the generation without upcasters");
    EXPECT_EQ(status(daemon).subscriber("p")->errors, 0U) << diagnose(daemon);
    ASSERT_TRUE(daemon.terminate().is_exit(0));
}

TEST_F(BlueGreen, AddingASchemaToAProjectionThatHasRunWaitsForARebuild) {
    append_ticks(1000);
    std::string unowned = projection();
    unowned.replace(unowned.find("    schema: p_read\n"), 19, "");
    {
        auto daemon = DaemonProcess::start(
            write_file("public.yaml", base_config({.batch_size = 1000}) + unowned));
        ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
        ASSERT_TRUE(daemon.terminate().is_exit(0));
    }
    ASSERT_EQ(scalar("SELECT count(*) FROM public.p_applied"), 1000);
    auto cfg = config(1000);
    auto daemon = DaemonProcess::start(cfg);
    // An empty new schema would miss the 1000 events before the checkpoint.
    ASSERT_TRUE(daemon.wait_for_log("has applied events but its schema p_read does not exist", 30s))
        << diagnose(daemon);
    EXPECT_FALSE(schema_exists("p_read"));

    auto rebuilt = sluice({"rebuild", "p", "-c", cfg, "--yes"});
    ASSERT_TRUE(rebuilt.status.is_exit(0)) << rebuilt.output;
    EXPECT_FALSE(schema_exists("p_read__previous")) << "there was no live generation to keep";
    append_ticks(300);
    ASSERT_TRUE(wait_checkpoint("p", head(), 60s)) << diagnose(daemon);
    expect_live_equals_recomputation("after the first blue/green rebuild");
    ASSERT_TRUE(daemon.terminate().is_exit(0));
}

}  // namespace
}  // namespace sluice::testing
