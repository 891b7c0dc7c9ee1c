// Operator mistakes that sluice must explain in its own words: a busy http.listen port,
// `sluice rebuild` of a name that is not a projection or without one, values out of range, and
// `sluice parked` with a name that is no subscriber, bad usage, or a database URL with a password.
#include <gmock/gmock.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "daemon_fixture.hpp"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class Commands : public DaemonTest {
  protected:
    // Runs sluice with `args` to its end; returns its exit code and output.
    std::pair<int, std::string> run(const std::vector<std::string>& args) {
        auto process = DaemonProcess::spawn(args);
        auto exit = process.wait_exit(30s);
        if (!exit) {
            ADD_FAILURE() << "sluice kept running\n" << process.output_tail();
            return {-1, process.output()};
        }
        return {exit->exited ? exit->code : -1, process.output()};
    }
};

TEST_F(Commands, ABusyHttpPortNamesTheConfigKeyAndTheAddressNotBoost) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor taken(io,
                                         {boost::asio::ip::address_v4::loopback(), 0});  // listens
    const std::string address = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
    std::string config = base_config();
    config.replace(config.find("127.0.0.1:0"), 11, address);
    auto [code, out] = run({"run", "-c", write_file("busy.yaml", config)});
    EXPECT_EQ(code, 1) << out;
    EXPECT_THAT(out, HasSubstr("http.listen " + address +
                               ": address already in use (another sluice or program listens "
                               "there; change http.listen)"));
    EXPECT_THAT(out, Not(HasSubstr("boost")));
    EXPECT_THAT(out, Not(HasSubstr("system:98")));
}

const std::string two_projections_and_a_webhook =
    "projections:\n"
    "  - name: totals\n    handlers:\n      E: SELECT 1\n"
    "  - name: counts\n    handlers:\n      E: SELECT 1\n"
    "webhooks:\n  - name: shipping\n    url: \"http://127.0.0.1:1/\"\n"
    "    secrets: [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n";

TEST_F(Commands, RebuildOfAWebhookSaysItIsOneAndListsTheProjections) {
    auto path = write_file("s.yaml", base_config() + two_projections_and_a_webhook);
    auto [code, out] = run({"rebuild", "shipping", "-c", path, "--yes"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_EQ(out, "sluice rebuild: 'shipping' is a webhook in " + path +
                       ", not a projection; only projections are rebuilt (projections: totals, "
                       "counts)\n");
}

TEST_F(Commands, RebuildOfAnUnknownNameListsTheProjections) {
    auto path = write_file("s.yaml", base_config() + two_projections_and_a_webhook);
    auto [code, out] = run({"rebuild", "nosuch", "-c", path, "--yes"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_EQ(out, "sluice rebuild: no projection named 'nosuch' in " + path +
                       " (projections: totals, counts)\n");
}

TEST_F(Commands, ParkedWithAnUnknownNameExitsTwoAndListsTheSubscribers) {
    migrate();
    conn().exec("INSERT INTO sluice.checkpoints (name) VALUES ('gone'), ('split[1/2]')");
    auto path = write_file("s.yaml", base_config() + two_projections_and_a_webhook);
    const std::string known = "(subscribers: counts, gone, shipping, split, totals)\n";

    auto list = run({"parked", "list", "nosuch", "-c", path});
    EXPECT_EQ(list.first, 2) << list.second;
    EXPECT_EQ(list.second, "sluice parked: no subscriber named 'nosuch' " + known);
    auto drop = run({"parked", "drop", "nosuch", "--all", "-c", path});
    EXPECT_EQ(drop.first, 2) << drop.second;
    EXPECT_EQ(drop.second, "sluice parked: no subscriber named 'nosuch' " + known);
    // retry takes the config's handlers: only its subscribers count.
    auto retry = run({"parked", "retry", "gone", "--all", "-c", path});
    EXPECT_EQ(retry.first, 2) << retry.second;
    EXPECT_EQ(retry.second, "sluice parked: no subscriber named 'gone' in " + path +
                                " (subscribers: counts, shipping, totals)\n");

    // Known names: a webhook, a projection of the database only, a part; nothing parked.
    for (const char* name : {"shipping", "gone", "split", "split[1/2]"}) {
        auto r = run({"parked", "list", name, "-c", path});
        EXPECT_EQ(r.first, 0) << r.second;
        EXPECT_EQ(r.second, std::string("no parked events of ") + name + "\n");
    }
    auto none = run({"parked", "list", "nosuch", "--database-url", db_->url()});
    EXPECT_EQ(none.first, 2) << none.second;
    EXPECT_EQ(none.second,
              "sluice parked: no subscriber named 'nosuch' (subscribers: gone, split)\n");
}

TEST_F(Commands, ParkedHasHelpOnEverySubcommandAndBadUsageExitsTwo) {
    for (const std::vector<std::string>& args : {std::vector<std::string>{"parked", "--help"},
                                                 {"parked", "list", "--help"},
                                                 {"parked", "retry", "--help"},
                                                 {"parked", "drop", "-h"}}) {
        auto [code, out] = run(args);
        EXPECT_EQ(code, 0) << out;
        EXPECT_THAT(out, HasSubstr("Usage: sluice parked " +
                                   (args[1].starts_with("-") ? std::string("list") : args[1])))
            << out;
    }
    auto path = write_file("s.yaml", base_config() + two_projections_and_a_webhook);
    const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
        {{"parked"}, "say what to do: list, retry or drop (see sluice parked --help)"},
        {{"parked", "show"}, "unknown action 'show' (list, retry or drop)"},
        {{"parked", "retry", "totals", "--all"},
         "the option '--config' is required but missing (see sluice parked retry --help)"},
        {{"parked", "retry", "--all", "-c", path},
         "retry: name the subscriber (see sluice parked retry --help)"},
        {{"parked", "drop", "totals", "-c", path}, "drop: give either --event ID or --all"},
        {{"parked", "drop", "totals", "--event", "3", "--all", "-c", path},
         "drop: give either --event ID or --all"},
        {{"parked", "retry", "totals", "--event", "three", "-c", path},
         "the argument ('three') for option '--event' is invalid (see sluice parked retry "
         "--help)"},
        {{"parked", "list", "--all", "-c", path},
         "unrecognised option '--all' (see sluice parked list --help)"},
        {{"parked", "list", "--conf", path},
         "unrecognised option '--conf' (see sluice parked list --help)"},
    };
    for (const auto& [args, message] : bad) {
        auto [code, out] = run(args);
        EXPECT_EQ(code, 2) << out;
        EXPECT_EQ(out, "sluice parked: " + message + "\n");
    }
}

TEST_F(Commands, ParkedNeverPrintsTheDatabasePassword) {
    const std::string url = "postgresql://sluice:pw-s3cret-42@127.0.0.1:1/nowhere";
    auto config = base_config();
    config.replace(config.find(db_->url()), db_->url().size(), url);
    auto path = write_file("secret.yaml", config + two_projections_and_a_webhook);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"parked", "list", "--database-url", url},
          {"parked", "retry", "totals", "--all", "-c", path},
          {"parked", "drop", "totals", "--all", "-c", path}}) {
        auto [code, out] = run(args);
        EXPECT_EQ(code, 1) << out;
        EXPECT_THAT(out, HasSubstr("cannot connect to PostgreSQL")) << out;
        EXPECT_THAT(out, Not(HasSubstr("pw-s3cret-42"))) << out;
    }
}

TEST_F(Commands, RebuildWithoutANameOrWithTwoSaysSoWithoutInternalOptionNames) {
    auto path = write_file("s.yaml", base_config() + two_projections_and_a_webhook);
    auto [none_code, none] = run({"rebuild", "-c", path, "--yes"});
    EXPECT_EQ(none_code, 2) << none;
    EXPECT_EQ(none,
              "sluice rebuild: give the projection to rebuild: sluice rebuild NAME --config "
              "FILE\n");
    auto [two_code, two] = run({"rebuild", "totals", "counts", "-c", path, "--yes"});
    EXPECT_EQ(two_code, 2) << two;
    EXPECT_EQ(two, "sluice rebuild: rebuild takes one projection name, got also 'counts'\n");
}

TEST_F(Commands, NegativeSecondsAreUsageErrors) {
    auto path = write_file("s.yaml", base_config() + two_projections_and_a_webhook);
    auto [rebuild_code, rebuild] =
        run({"rebuild", "totals", "-c", path, "--yes", "--lock-timeout", "-5"});
    EXPECT_EQ(rebuild_code, 2) << rebuild;
    EXPECT_EQ(rebuild,
              "sluice rebuild: --lock-timeout must be 0 (no limit) or more seconds, got -5\n");
    auto [run_code, run_out] = run({"run", "-c", path, "--drain", "-1"});
    EXPECT_EQ(run_code, 2) << run_out;
    EXPECT_EQ(run_out, "sluice run: --drain must be 0 or more seconds, got -1\n");
}

TEST_F(Commands, StatusRejectsAnHttpAddressThatIsNotOne) {
    auto [code, out] = run({"status", "--http", "localhost"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_EQ(out, "sluice status: --http 'localhost' is not HOST:PORT (e.g. 127.0.0.1:9464)\n");
}

TEST_F(Commands, StatusWithAnInvalidConfigSaysHowToAskTheDaemonWithoutIt) {
    auto path = write_file("s.yaml", base_config() + "no_such_section: 1\n");
    auto [code, out] = run({"status", "-c", path});
    EXPECT_EQ(code, 2) << out;
    EXPECT_THAT(out, HasSubstr("unknown key 'no_such_section'"));
    EXPECT_THAT(out, HasSubstr("1 error in " + path + "\n"));
    EXPECT_THAT(out, HasSubstr("sluice status: the daemon's address and database come from " +
                               path + "; --http HOST:PORT asks the daemon without it"));
}

TEST_F(Commands, StatusWithoutAConfigOfADatabaseNothingRanAgainstSaysHowToListUnits) {
    migrate();
    auto [code, out] = run({"status", "--http", "127.0.0.1:1", "--database-url", db_->url()});
    EXPECT_EQ(code, 0) << out;
    EXPECT_THAT(out, HasSubstr("(no projection or webhook has run against this database yet; "
                               "--config FILE lists the configured ones)\n"));
}

}  // namespace
}  // namespace sluice::testing
