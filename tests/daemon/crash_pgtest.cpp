// Process death during a catch-up: kill -9 at random moments, or SIGTERM. The checkpoint and the
// read model commit together, so at every moment the read model holds exactly the events up to
// the checkpoint, and a restarted daemon finishes with every event applied exactly once.
#include <csignal>
#include <random>
#include <thread>

#include "daemon_fixture.hpp"

namespace sluice::testing {
namespace {

constexpr std::int64_t preloaded = 300000;  // enough that kills land mid-way

// counters.n counts applications; applied_log's primary key rejects a second application of an
// event (and stops the projection: retries 0), so "none twice, none missing" is checkable.
const std::string counter_projection = R"(
projections:
  - name: counter
    setup: |
      CREATE TABLE IF NOT EXISTS counters (id int PRIMARY KEY, n bigint NOT NULL);
      INSERT INTO counters VALUES (1, 0) ON CONFLICT DO NOTHING;
      CREATE TABLE IF NOT EXISTS applied_log (event_id bigint PRIMARY KEY);
    handlers:
      E: |
        UPDATE counters SET n = n + 1 WHERE id = 1;
        INSERT INTO applied_log VALUES (:id)
    on_error: {retries: 0, then: stop}
)";

struct Snapshot {
    std::int64_t n = 0;
    std::int64_t logged = 0;
    std::int64_t up_to_checkpoint = 0;  // events at or before the stored checkpoint
    Position checkpoint;
};

class Crash : public DaemonTest {
  protected:
    // One statement, one snapshot: the three counts are comparable.
    Snapshot snapshot() {
        auto r = conn().exec(R"SQL(
            SELECT coalesce((SELECT n FROM counters WHERE id = 1), 0),
                   (SELECT count(*) FROM applied_log),
                   (SELECT count(*) FROM events e, sluice.checkpoints k WHERE k.name = 'counter'
                      AND (e.transaction_id, e.id) <= (k.transaction_id, k.event_id)),
                   coalesce((SELECT transaction_id::text FROM sluice.checkpoints
                              WHERE name = 'counter'), '0'),
                   coalesce((SELECT event_id FROM sluice.checkpoints WHERE name = 'counter'), 0)
        )SQL");
        return {r.int64(0, 0), r.int64(0, 1), r.int64(0, 2),
                Position{std::stoull(std::string(r.text(0, 3))), r.int64(0, 4)}};
    }

    void expect_consistent(const Snapshot& s, const std::string& when) {
        EXPECT_EQ(s.n, s.logged) << when << ": an increment was applied twice or lost";
        EXPECT_EQ(s.n, s.up_to_checkpoint) << when << ": the read model and the checkpoint "
                                           << s.checkpoint.to_string() << " disagree";
    }

    void prepare() {
        db_->migrate();
        // The read-model tables exist before the first start, so snapshot() works at once.
        conn().exec_script(
            "CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);"
            "INSERT INTO counters VALUES (1, 0);"
            "CREATE TABLE applied_log (event_id bigint PRIMARY KEY);");
        bulk_insert(preloaded, "E");
        config_ = write_file("sluice.yaml", base_config({.batch_size = 500}) + counter_projection);
    }

    std::string config_;
};

TEST_F(Crash, KillNineDuringCatchUpNeverLosesOrRepeatsAnEvent) {
    prepare();
    Position last = head();
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> delay_ms(100, 600);
    Position previous{};
    int killed_mid_way = 0;
    for (int round = 1; round <= 10; ++round) {
        auto daemon = DaemonProcess::start(config_);
        // Load shape: the kill lands at a random moment, whatever the daemon is doing.
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
        ASSERT_TRUE(daemon.running()) << "round " << round << "\n" << diagnose(daemon);
        daemon.kill(SIGKILL);
        auto exit = daemon.wait_exit(10s);
        ASSERT_TRUE(exit && exit->signal == SIGKILL) << "round " << round;

        Snapshot s = snapshot();
        expect_consistent(s, "after kill " + std::to_string(round));
        EXPECT_GE(s.checkpoint, previous) << "the checkpoint went backwards";
        if (s.checkpoint > previous && s.checkpoint < last)
            ++killed_mid_way;
        previous = s.checkpoint;
        if (HasFailure())
            return;
    }
    // The kills must have hit a catch-up in progress, or this test proved nothing.
    EXPECT_GE(killed_mid_way, 3) << "too few kills landed mid-way; the catch-up is too fast for "
                                    "this test (raise `preloaded`)";

    auto daemon = DaemonProcess::start(config_);
    ASSERT_TRUE(wait_checkpoint("counter", last, 120s))
        << "final run did not finish; at "
        << (checkpoint("counter") ? checkpoint("counter")->to_string() : "none") << "\n"
        << diagnose(daemon);
    Snapshot s = snapshot();
    expect_consistent(s, "at the end");
    EXPECT_EQ(s.n, preloaded);
    EXPECT_EQ(scalar("SELECT count(*) FROM events e WHERE NOT EXISTS "
                     "(SELECT 1 FROM applied_log a WHERE a.event_id = e.id)"),
              0);
    auto sub = status(daemon).subscriber("counter");
    ASSERT_TRUE(sub);
    EXPECT_EQ(sub->state, "running") << sub->last_error;
}

TEST_F(Crash, SigtermDuringCatchUpExitsCleanlyWithACommittedCheckpoint) {
    prepare();
    Position last = head();
    {
        auto daemon = DaemonProcess::start(config_);
        ASSERT_TRUE(wait_until([&] { return snapshot().checkpoint.id > 0; }, 20s))
            << "the catch-up never started\n"
            << diagnose(daemon);
        Snapshot before = snapshot();
        ASSERT_LT(before.checkpoint, last)
            << "the catch-up finished before SIGTERM; nothing tested";

        daemon.kill(SIGTERM);
        auto t0 = std::chrono::steady_clock::now();
        auto exit = daemon.wait_exit(10s);
        ASSERT_TRUE(exit) << "still running 10 s after SIGTERM\n" << diagnose(daemon);
        auto took = std::chrono::steady_clock::now() - t0;
        EXPECT_TRUE(exit->is_exit(0)) << exit->describe() << "\n" << diagnose(daemon);
        EXPECT_LT(took, 5s);
        EXPECT_TRUE(daemon.wait_for_log("msg=stopped", 1s)) << diagnose(daemon);

        Snapshot after = snapshot();
        expect_consistent(after, "after SIGTERM");
        EXPECT_GE(after.checkpoint, before.checkpoint);
        EXPECT_LT(after.checkpoint, last) << "stopping should not wait for the whole catch-up";
    }
    // Restarted, it resumes from the checkpoint and finishes exactly.
    auto daemon = DaemonProcess::start(config_);
    ASSERT_TRUE(wait_checkpoint("counter", last, 120s)) << diagnose(daemon);
    Snapshot s = snapshot();
    expect_consistent(s, "after the restart");
    EXPECT_EQ(s.n, preloaded);
}

TEST_F(Crash, SigtermAtTheHeadExitsAtOnceWhateverThePollInterval) {
    db_->migrate();
    bulk_insert(100, "E");
    // A long poll interval: a subscriber at the head waits for news that long unless woken.
    config_ = write_file("sluice.yaml", base_config({.poll_interval = "60s", .batch_size = 5000}) +
                                            counter_projection);
    auto daemon = DaemonProcess::start(config_);
    ASSERT_TRUE(wait_checkpoint("counter", head(), 30s)) << diagnose(daemon);
    auto sub = status(daemon).subscriber("counter");
    ASSERT_TRUE(sub && sub->state == "running") << diagnose(daemon);
    daemon.kill(SIGTERM);
    auto t0 = std::chrono::steady_clock::now();
    auto exit = daemon.wait_exit(30s);
    ASSERT_TRUE(exit) << "still running 30 s after SIGTERM\n" << diagnose(daemon);
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s)
        << "a subscriber waiting for news was not woken to stop\n"
        << daemon.output_tail();
    EXPECT_EQ(daemon.count_in_log("still finishing"), 0U) << daemon.output_tail();
}

}  // namespace
}  // namespace sluice::testing
