#include "counting_fixture.hpp"

#include <csignal>
#include <fstream>

namespace sluice::testing {

std::string CountingProjectionTest::write_config(const std::string& url) {
    std::string path = ::testing::TempDir() + "/counting-" + db_.name() + ".yaml";
    std::ofstream(path) << "database: {url: '" << url << "'}\n"
                        << "coordination: {failover_after: 10s}\n"
                        << "tailer: {batch_size: 50, poll_interval: 200ms}\n"
                        << "http: {listen: 127.0.0.1:0}\n"
                        << "projections:\n"
                        << "  - name: p\n"
                        << "    setup: CREATE TABLE IF NOT EXISTS applied (event_id bigint "
                           "PRIMARY KEY, times int NOT NULL)\n"
                        << "    handlers:\n"
                        << "      Tick: INSERT INTO applied VALUES (:id, 1) ON CONFLICT (event_id) "
                           "DO UPDATE SET times = applied.times + 1\n";
    return path;
}

void CountingProjectionTest::append(int n) {
    conn_.exec(
        "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
        "SELECT gen_random_uuid(), 'T', 1, 'Tick', '{}' FROM generate_series(1, $1::int)",
        pg::Params(n));
}

std::int64_t CountingProjectionTest::applied(const std::string& aggregate) {
    if (!conn_.exec("SELECT to_regclass('applied') IS NOT NULL").boolean(0, 0))
        return 0;
    return conn_.exec("SELECT coalesce(" + aggregate + ", 0) FROM applied").int64(0, 0);
}

void CountingProjectionTest::expect_clean_stop(DaemonProcess& daemon) {
    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(std::chrono::seconds(30));
    ASSERT_TRUE(exit) << daemon.output_tail();
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe();
}

}  // namespace sluice::testing
