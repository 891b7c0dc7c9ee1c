// The owners row fences a running daemon: when the row says another instance owns a projection,
// the daemon's next batch fails its ownership check, commits nothing and hands the projection
// over; as the row's instance holds no lock, the daemon then takes the projection back and goes
// on from the stored checkpoint. Every event is applied exactly once throughout.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "daemon_process.hpp"
#include "test_database.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

TEST(Fencing, ADaemonThatLostTheOwnersRowCommitsNothingAndTakesTheProjectionBackLater) {
    auto db = TestDatabase::create();
    db.migrate();
    auto conn = db.connect();
    std::string path = ::testing::TempDir() + "/fencing-" + db.name() + ".yaml";
    std::ofstream(path) << "database: {url: '" << db.url() << "'}\n"
                        << "coordination: {failover_after: 2s}\n"
                        << "tailer: {batch_size: 50, poll_interval: 200ms}\n"
                        << "http: {listen: 127.0.0.1:0}\n"
                        << "projections:\n"
                        << "  - name: p\n"
                        << "    setup: CREATE TABLE IF NOT EXISTS applied (event_id bigint "
                           "PRIMARY KEY, times int NOT NULL)\n"
                        << "    handlers:\n"
                        << "      Tick: INSERT INTO applied VALUES (:id, 1) ON CONFLICT (event_id) "
                           "DO UPDATE SET times = applied.times + 1\n";
    auto append = [&](int n) {
        conn.exec(
            "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
            "SELECT gen_random_uuid(), 'T', 1, 'Tick', '{}' FROM generate_series(1, $1::int)",
            pg::Params(n));
    };
    auto applied = [&] { return conn.exec("SELECT count(*) FROM applied").int64(0, 0); };
    append(100);
    auto daemon = DaemonProcess::start(path);
    ASSERT_TRUE(wait_until([&] { return daemon.count_in_log("took ownership") >= 1; }, 20s))
        << daemon.output_tail();
    ASSERT_TRUE(wait_until(
        [&] {
            return conn.exec("SELECT to_regclass('applied') IS NOT NULL").boolean(0, 0) &&
                   applied() == 100;
        },
        20s))
        << daemon.output_tail();

    // Another instance "takes over": the row names it now (as when a unit moved while this
    // daemon's session was away). The daemon's next batch must fail its ownership check.
    conn.exec(
        "UPDATE sluice.owners SET instance_id = 'intruder', heartbeat = now() "
        "WHERE name = 'p'");
    append(100);
    ASSERT_TRUE(daemon.wait_for_log("another instance owns this subscriber now", 15s))
        << daemon.output_tail();
    // The intruder holds no lock (it has no session), so the daemon takes p back on a later
    // tick and goes on from the stored checkpoint.
    ASSERT_TRUE(wait_until([&] { return applied() == 200; }, 20s))
        << "applied " << applied() << "\n"
        << daemon.output_tail();
    EXPECT_EQ(conn.exec("SELECT max(times) FROM applied").int64(0, 0), 1)
        << "an event was applied twice";
    EXPECT_GE(daemon.count_in_log("took ownership"), 2U) << daemon.output_tail();
    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(30s);
    ASSERT_TRUE(exit) << daemon.output_tail();
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe();
}

}  // namespace
}  // namespace sluice::testing
