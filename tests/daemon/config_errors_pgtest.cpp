// `sluice run` with a broken config: exit code 2, every error on stderr with its exact
// file:line:column, and nothing written to the database (the config is checked before sluice
// connects or migrates).
#include <csignal>

#include "daemon_fixture.hpp"

namespace sluice::testing {
namespace {

class ConfigErrors : public DaemonTest {
  protected:
    bool database_untouched() {
        return scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'sluice'") == 0 &&
               scalar("SELECT count(*) FROM pg_class WHERE relname = 'events'") == 0;
    }

    // Runs `sluice run -c <path>` and returns its output once it has exited with code 2.
    std::string run_expecting_usage_error(const std::string& path) {
        auto daemon = DaemonProcess::spawn({"run", "-c", path});
        auto exit = daemon.wait_exit(15s);
        if (!exit) {
            ADD_FAILURE() << "sluice kept running with a broken config\n" << daemon.output_tail();
            return "";
        }
        EXPECT_TRUE(exit->is_exit(2)) << exit->describe() << "\n" << daemon.output_tail();
        return daemon.output();
    }
};

TEST_F(ConfigErrors, EveryErrorIsReportedWithItsPositionAndNothingIsWritten) {
    // Line numbers matter: the expectations below point into this text.
    std::string path =
        write_file("bad.yaml",
                   "database:\n"  // 1
                   "  url: \"" +
                       db_->url() +
                       "\"\n"                          // 2
                       "tailer:\n"                     // 3
                       "  poll_interval: 5 seconds\n"  // 4
                       "  batch_sise: 10\n"            // 5
                       "http:\n"                       // 6
                       "  listen: 127.0.0.1:0\n"       // 7
                       "projections:\n"                // 8
                       "  - name: orders\n"            // 9
                       "    handlers:\n"               // 10
                       "      OrderCreated: |\n"       // 11
                       "        INSERT INTO orders VALUES (:aggregate_id, :tenant_id)\n"
                       "      OrderShipped:\n"                                      // 13
                       "    on_error: {retries: 1, backoff: soon, then: park}\n");  // 14
    std::string out = run_expecting_usage_error(path);
    const std::vector<std::string> expected{
        path + ":4:18: poll_interval in tailer: unknown duration unit in '5 seconds'",
        path + ":5:3: unknown key 'batch_sise' in tailer",
        path +
            ":12:51: unknown parameter ':tenant_id' in handler 'OrderCreated' of projection "
            "'orders'",
        path + ":13:7: missing SQL for handler 'OrderShipped' in projection 'orders'",
        path + ":14:37: backoff in on_error of projection 'orders': expected a duration",
        "5 errors in " + path,
    };
    for (const auto& line : expected)
        EXPECT_NE(out.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << out;
    EXPECT_EQ(out.find("postgresql://"), std::string::npos) << "the database URL was echoed";
    EXPECT_TRUE(database_untouched()) << "sluice wrote to the database despite a broken config";
}

TEST_F(ConfigErrors, AnEmptyDatabaseUrlIsAConfigError) {
    std::string path = write_file("empty_url.yaml",
                                  "database:\n"              // 1
                                  "  url: \"\"\n"            // 2
                                  "http:\n"                  // 3
                                  "  listen: 127.0.0.1:0\n"  // 4
                                  "log:\n"                   // 5
                                  "  level: loud\n");        // 6
    std::string out = run_expecting_usage_error(path);
    EXPECT_NE(out.find(path + ":2:8: url in database: must not be empty"), std::string::npos)
        << out;
    EXPECT_NE(out.find(path + ":6:10: level in log: expected one of debug, info, warn, error"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("2 errors in " + path), std::string::npos) << out;
    EXPECT_TRUE(database_untouched());
}

TEST_F(ConfigErrors, AValidConfigDoesMigrateSoTheCheckAboveMeansSomething) {
    std::string path = write_file("good.yaml", base_config() +
                                                   "projections:\n"
                                                   "  - name: p\n"
                                                   "    handlers:\n"
                                                   "      E: SELECT 1\n");
    auto daemon = DaemonProcess::start(path);
    ASSERT_TRUE(wait_running(daemon, {"p"}));
    EXPECT_FALSE(database_untouched());
    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(10s);
    ASSERT_TRUE(exit);
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe();
}

}  // namespace
}  // namespace sluice::testing
