// `sluice status` as operators run it when no daemon answers: it reads the database and says
// so (STATE `no daemon`), takes KIND from the config, explains POSITION under the table, and its
// --json prints plain numbers (no `0E0`).
#include <boost/json.hpp>
#include <regex>

#include "daemon_fixture.hpp"

namespace sluice::testing {
namespace {

class StatusCli : public DaemonTest {};

// The table's data row for `name` (the line that starts with it).
std::string row_of(const std::string& table, const std::string& name) {
    std::istringstream in(table);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with(name + " "))
            return line;
    }
    return {};
}

TEST_F(StatusCli, WithoutADaemonReadsTheDatabaseWithKindsFromTheConfig) {
    db_->migrate();
    std::string path = write_file("sluice.yaml", base_config() + R"(projections:
  - name: counted
    setup: CREATE TABLE IF NOT EXISTS counted (event_id bigint PRIMARY KEY)
    handlers:
      Tick: INSERT INTO counted VALUES (:id)
webhooks:
  - name: hook
    url: http://127.0.0.1:9/hook
    secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
    event_types: [Nothing]
)");
    {
        auto daemon = DaemonProcess::start(path);
        ASSERT_TRUE(wait_running(daemon, {"counted", "hook"}));
        append_ticks(3);
        ASSERT_TRUE(wait_checkpoint("counted", head(), 10s)) << diagnose(daemon);
        ASSERT_TRUE(wait_checkpoint("hook", head(), 10s)) << diagnose(daemon);
        ASSERT_TRUE(daemon.terminate().is_exit(0));
    }
    Position at = head();
    std::string position = std::to_string(at.transaction_id) + "/" + std::to_string(at.id);

    auto cli = DaemonProcess::spawn({"status", "--config", path});
    auto exit = cli.wait_exit(30s);
    ASSERT_TRUE(exit && exit->is_exit(0)) << cli.output();
    std::string out = cli.output();
    std::regex projection_row("counted +projection +no daemon +" + position + " +0 +0\\.0 ");
    EXPECT_TRUE(std::regex_search(row_of(out, "counted"), projection_row)) << out;
    std::regex webhook_row("hook +webhook +no daemon +" + position + " ");
    EXPECT_TRUE(std::regex_search(row_of(out, "hook"), webhook_row)) << out;
    EXPECT_EQ(out.find("unknown"), std::string::npos) << out;
    EXPECT_NE(out.find("POSITION: transaction id/event id of the last event the unit handled"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("(source: database (no daemon answered at 127.0.0.1:0))"), std::string::npos)
        << out;

    auto json_cli = DaemonProcess::spawn({"status", "--config", path, "--json"});
    auto json_exit = json_cli.wait_exit(30s);
    ASSERT_TRUE(json_exit && json_exit->is_exit(0)) << json_cli.output();
    std::string text = json_cli.output();
    EXPECT_FALSE(std::regex_search(text, std::regex("[0-9][eE][-+]?[0-9]"))) << text;
    auto root = boost::json::parse(text).as_object();
    for (const auto& s : root.at("subscribers").as_array()) {
        EXPECT_EQ(s.at("state").as_string(), "no daemon");
        EXPECT_EQ(s.at("lag_seconds").as_double(), 0.0);
        EXPECT_EQ(s.at("lag_events").as_int64(), 0);
    }
    EXPECT_NE(text.find(R"("lag_seconds":0.0)"), std::string::npos) << text;
}

}  // namespace
}  // namespace sluice::testing
