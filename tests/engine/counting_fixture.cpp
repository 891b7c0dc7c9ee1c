#include "counting_fixture.hpp"

#include <csignal>

namespace sluice::testing {

std::string CountingProjectionTest::write_config(const std::string& url) {
    return write_file(
        "counting.yaml",
        base_config(
            {.url = url, .poll_interval = "200ms", .batch_size = 50, .failover_after = "10s"}) +
            "projections:\n"
            "  - name: p\n"
            "    setup: CREATE TABLE IF NOT EXISTS applied (event_id bigint PRIMARY KEY, "
            "times int NOT NULL)\n"
            "    handlers:\n"
            "      Tick: INSERT INTO applied VALUES (:id, 1) ON CONFLICT (event_id) "
            "DO UPDATE SET times = applied.times + 1\n");
}

std::int64_t CountingProjectionTest::applied(const std::string& aggregate) {
    if (!conn().exec("SELECT to_regclass('applied') IS NOT NULL").boolean(0, 0))
        return 0;
    return conn().exec("SELECT coalesce(" + aggregate + ", 0) FROM applied").int64(0, 0);
}

void CountingProjectionTest::expect_clean_stop(DaemonProcess& daemon) {
    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(std::chrono::seconds(30));
    ASSERT_TRUE(exit) << daemon.output_tail();
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe();
}

}  // namespace sluice::testing
