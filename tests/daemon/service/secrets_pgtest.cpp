// Secrets never leak: with a database password in the URL, a webhook signing secret and a
// secret header value, sluice is driven through the errors most likely to echo them (an
// unreachable webhook endpoint, a failing handler, its connections killed, a reload of a config
// whose secret and URL are malformed, CLI commands failing against the database), and neither
// its log (at debug level), /status, /metrics, /readyz nor the CLI output ever contains them.
// The test cluster uses trust authentication, so a URL with any password still connects.
#include <csignal>

#include "daemon_fixture.hpp"
#include "http_receiver.hpp"

namespace sluice::testing {
namespace {

const std::string password = "pw-Zq81xVt0Lk3mRr7c";
// "sluice-service-secret-key-0042", base64.
const std::string secret_base64 = "c2x1aWNlLXNlcnZpY2Utc2VjcmV0LWtleS0wMDQy";
const std::string header_value = "hdr-Pq72mWn4Yc9s";

// postgresql://postgres@host:port/db -> postgresql://postgres:<password>@host:port/db
std::string with_password(const std::string& url) {
    auto at = url.find('@');
    if (at == std::string::npos)
        throw std::runtime_error("expected user@host in " + url);
    return url.substr(0, at) + ":" + password + url.substr(at);
}

std::string config_text(const std::string& base, unsigned short dead_port,
                        const std::string& secret, const std::string& url_scheme = "http") {
    return base + R"(projections:
  - name: fragile
    setup: CREATE TABLE IF NOT EXISTS fragile (event_id bigint PRIMARY KEY, n int NOT NULL)
    handlers:
      Tick: INSERT INTO fragile VALUES (:id, (:payload->>'n')::int)
    on_error: {retries: 1, backoff: 10ms, then: park}
webhooks:
  - name: hook
    url: )" +
           url_scheme + "://127.0.0.1:" + std::to_string(dead_port) + R"(/hook
    secrets: [")" +
           secret +
           R"("]
    headers: {X-Token: )" +
           header_value + R"(}
    timeout: 1s
    retry: {schedule: [100ms, 100ms, 100ms], jitter: 0%}
)";
}

class Secrets : public DaemonTest {
  protected:
    // Fails the test for every secret found in `text`, naming where it was seen.
    static void expect_clean(const std::string& where, const std::string& text) {
        for (const auto& s : {password, secret_base64, header_value}) {
            auto at = text.find(s);
            EXPECT_EQ(at, std::string::npos) << where << " contains a secret: ..."
                                             << text.substr(at < 120 ? 0 : at - 120, 240) << "...";
        }
    }
};

TEST_F(Secrets, NeverAppearInLogsStatusMetricsOrCommandOutput) {
    // A closed port: a receiver that is gone again before sluice is started.
    unsigned short dead_port = 0;
    {
        HttpReceiver gone;
        dead_port = gone.port();
    }
    std::string url = with_password(db_->url());
    std::string valid = config_text(base_config({.url = url, .log_level = "debug"}), dead_port,
                                    "whsec_" + secret_base64);
    std::string path = write_file("sluice.yaml", valid);

    auto migrate = DaemonProcess::spawn({"migrate", "--database-url", url});
    auto migrated = migrate.wait_exit(60s);
    ASSERT_TRUE(migrated && migrated->is_exit(0)) << migrate.output_tail();
    expect_clean("sluice migrate output", migrate.output());

    auto daemon = DaemonProcess::start(path);
    ASSERT_TRUE(wait_running(daemon, {"fragile", "hook"}));

    // A failing handler: the event is retried once and parked.
    append_ticks(3);
    conn().exec(
        "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
        "VALUES (gen_random_uuid(), 'Test', 1, 'Tick', '{\"n\": \"oops\"}')");
    append_ticks(3);
    EXPECT_TRUE(daemon.wait_for_log("event parked", 20s)) << diagnose(daemon);
    // The unreachable endpoint: attempts fail with network errors.
    EXPECT_TRUE(wait_until(
        [&] {
            auto failed =
                metric_sample(daemon.http_get("/metrics").body, "sluice_outbox_attempts_total",
                              {"webhook=\"hook\"", "outcome=\"network\""});
            return failed.value_or(0) > 0;
        },
        20s))
        << "no failed delivery attempt recorded\n"
        << diagnose(daemon);

    // Its connections killed.
    std::size_t lost = daemon.count_in_log("reconnecting");
    auto killed = scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name LIKE 'sluice%' "
        "AND pid <> pg_backend_pid()");
    EXPECT_GT(killed, 0);
    EXPECT_TRUE(daemon.wait_for_log("reconnecting", 20s, lost + 1)) << diagnose(daemon);
    append_ticks(3);
    EXPECT_TRUE(wait_checkpoint("fragile", head(), 30s)) << diagnose(daemon);

    // A rejected reload whose secret is not base64 and whose URL is not http(s).
    std::string broken = config_text(base_config({.url = url, .log_level = "debug"}), dead_port,
                                     "whsec_" + secret_base64 + "!", "ftp");
    write_file("sluice.yaml", broken);
    daemon.kill(SIGHUP);
    EXPECT_TRUE(daemon.wait_for_log("reload rejected", 20s)) << diagnose(daemon);
    auto check = DaemonProcess::spawn({"check-config", "-c", path});
    auto checked = check.wait_exit(30s);
    EXPECT_TRUE(checked && checked->is_exit(2)) << check.output_tail();
    expect_clean("sluice check-config output (invalid config)", check.output());

    // CLI commands failing against the database: a database that does not exist.
    auto status_cli = DaemonProcess::spawn(
        {"status", "--http", "127.0.0.1:1", "--database-url", url + "_missing"});
    auto status_exit = status_cli.wait_exit(30s);
    EXPECT_TRUE(status_exit && !status_exit->is_exit(0)) << status_cli.output_tail();
    expect_clean("sluice status output (missing database)", status_cli.output());

    write_file("sluice.yaml", valid);
    auto connect = DaemonProcess::spawn({"check-config", "--connect", "-c", path});
    auto connected = connect.wait_exit(60s);
    EXPECT_TRUE(connected && connected->is_exit(0)) << connect.output_tail();
    expect_clean("sluice check-config --connect output", connect.output());

    expect_clean("/status", daemon.http_get("/status").body);
    expect_clean("/metrics", daemon.http_get("/metrics").body);
    expect_clean("/readyz", daemon.http_get("/readyz").body);
    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(30s);
    EXPECT_TRUE(exit && exit->is_exit(0)) << daemon.output_tail();
    expect_clean("the daemon's log", daemon.output());
    // The errors really happened (the checks above are not vacuous).
    std::string log = daemon.output();
    for (const char* needle :
         {"event parked", "reconnecting", "reload rejected", "webhook attempt failed"})
        EXPECT_NE(log.find(needle), std::string::npos) << "no '" << needle << "' in the log";
}

}  // namespace
}  // namespace sluice::testing
