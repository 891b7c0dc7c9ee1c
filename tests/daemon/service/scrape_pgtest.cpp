// /metrics as Prometheus sees it from a daemon that has done real work: the live exposition
// passes `promtool check metrics`, holds every metric the dashboard and the alerts refer to, and
// a real Prometheus server scraping it over loopback answers PromQL with sluice's numbers.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>

#include "daemon_fixture.hpp"
#include "daemon_process.hpp"
#include "http_receiver.hpp"

namespace sluice::testing {
namespace {

namespace json = boost::json;

const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const std::string projection = R"(projections:
  - name: ticks
    setup: CREATE TABLE IF NOT EXISTS ticks (event_id bigint PRIMARY KEY)
    handlers:
      Tick: INSERT INTO ticks VALUES (:id)
)";

std::string webhook(const std::string& url) {
    return "webhooks:\n  - name: hook\n    url: " + url + "\n    secrets: [\"" + secret +
           "\"]\n    event_types: [Tick]\n";
}

class Scrape : public DaemonTest {};

TEST_F(Scrape, TheLiveExpositionPassesPromtoolAndHoldsEveryMetricTheDashboardsUse) {
    db_->migrate();
    HttpReceiver receiver({.secrets = {secret}});
    auto daemon = DaemonProcess::start(
        write_file("sluice.yaml", base_config() + projection + webhook(receiver.url("/hook"))));
    ASSERT_TRUE(wait_running(daemon, {"ticks", "hook"}));
    append_ticks(20);
    ASSERT_TRUE(receiver.wait_for_requests(20, 30s)) << diagnose(daemon);
    // Metrics are exported once a second: wait until they show the deliveries.
    std::string scrape;
    ASSERT_TRUE(wait_until(
        [&] {
            scrape = daemon.http_get("/metrics").body;
            auto delivered = metric_sample(scrape, "sluice_outbox_attempts_total",
                                           {"webhook=\"hook\"", "outcome=\"2xx\""});
            auto projected = metric_sample(scrape, "sluice_subscriber_events_total",
                                           {"kind=\"projection\"", "name=\"ticks\""});
            return delivered == 20.0 && projected == 20.0;
        },
        20s))
        << scrape;
    std::string file = write_file("scrape.txt", scrape);

    auto promtool = run_command(
        {"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", SLUICE_PROMTOOL_PATH, file}, 60s);
    EXPECT_TRUE(promtool.status.is_exit(0))
        << "promtool check metrics: " << promtool.status.describe() << "\n"
        << promtool.output;

    std::string dashboards = source_dir() + "/dashboards";
    auto check = run_command(
        {"/usr/bin/python3", source_dir() + "/tests/dashboards/check_dashboards.py", "--scrape",
         file, "--promtool", SLUICE_PROMTOOL_PATH, "--dashboard", dashboards + "/sluice.json",
         "--rules", dashboards + "/alerts.yml", "--rules-test", dashboards + "/alerts_test.yml"},
        60s);
    EXPECT_TRUE(check.status.is_exit(0))
        << "metric names the dashboards use but the live scrape lacks:\n"
        << check.output;
}

TEST_F(Scrape, APrometheusServerScrapesTheProcessedEventCount) {
    db_->migrate();
    auto daemon = DaemonProcess::start(write_file("sluice.yaml", base_config() + projection));
    ASSERT_TRUE(wait_running(daemon, {"ticks"}));
    constexpr std::int64_t appended = 250;
    append_ticks(appended);
    ASSERT_TRUE(wait_checkpoint("ticks", head(), 20s)) << diagnose(daemon);

    std::string config = write_file("prometheus.yml",
                                    "global:\n"
                                    "  scrape_interval: 1s\n"
                                    "  evaluation_interval: 1s\n"
                                    "scrape_configs:\n"
                                    "  - job_name: sluice\n"
                                    "    static_configs:\n"
                                    "      - targets: [\"127.0.0.1:" +
                                        std::to_string(daemon.http_port()) + "\"]\n");
    // The free port may be taken between choosing and binding it: a few attempts.
    std::optional<DaemonProcess> prometheus;
    unsigned short port = 0;
    for (int attempt = 0; attempt < 3 && !prometheus; ++attempt) {
        port = free_port();
        auto p = DaemonProcess::spawn_program(
            {SLUICE_PROMETHEUS_PATH, "--config.file=" + config,
             "--storage.tsdb.path=" + dir_ + "/tsdb-" + std::to_string(attempt),
             "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"});
        bool up = wait_until(
            [&] {
                if (!p.running())
                    return true;
                try {
                    return http_get(port, "/-/ready", 1s).status == 200;
                } catch (const std::exception&) {
                    return false;
                }
            },
            30s);
        if (up && p.running()) {
            prometheus.emplace(std::move(p));
        } else {
            ADD_FAILURE() << "prometheus did not become ready (attempt " << attempt << ")\n"
                          << p.output_tail();
        }
    }
    ASSERT_TRUE(prometheus);

    std::string last;
    bool scraped = wait_until(
        [&] {
            try {
                last =
                    http_get(port, "/api/v1/query?query=sluice_subscriber_events_total", 2s).body;
                auto root = json::parse(last).as_object();
                for (const auto& r : root.at("data").at("result").as_array()) {
                    const auto& metric = r.at("metric").as_object();
                    if (metric.contains("name") && metric.at("name").as_string() == "ticks" &&
                        metric.at("job").as_string() == "sluice" &&
                        metric.at("kind").as_string() == "projection") {
                        return r.at("value").as_array().at(1).as_string() ==
                               std::to_string(appended);
                    }
                }
            } catch (const std::exception& e) {
                last += std::string("\n") + e.what();
            }
            return false;
        },
        30s);
    EXPECT_TRUE(scraped) << "PromQL did not return " << appended
                         << " events for projection ticks; last answer:\n"
                         << last << "\n"
                         << prometheus->output_tail();
    auto exit = prometheus->terminate(15s);
    EXPECT_TRUE(exit.is_exit(0)) << exit.describe() << "\n" << prometheus->output_tail();

    daemon.kill(SIGTERM);
    ASSERT_TRUE(daemon.wait_exit(30s)) << diagnose(daemon);
}

}  // namespace
}  // namespace sluice::testing
