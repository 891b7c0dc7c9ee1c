#include <iostream>

#include "config/validate.hpp"
#include "daemon/commands/commands.hpp"
#include "store/channels.hpp"
#include "store/migrate.hpp"

namespace sluice::daemon {

// config/ states the default channel on its own (it cannot include store/); keep them one.
static_assert(config::Database{}.notify_channel == store::default_events_channel);

int migrate_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    add_database_options(options);
    options.add_options()(
        "notify-channel",
        po::value<std::string>()->default_value(std::string(store::default_events_channel)),
        "the channel the events trigger notifies (set when the trigger is created; as the "
        "config's database.notify_channel)");
    po::variables_map vm;
    if (!parse_options("migrate", "[--database-url URL] [--events-table events]", options, args,
                       vm)) {
        return exit_ok;
    }
    store::SchemaOptions schema{events_table(vm), vm["notify-channel"].as<std::string>()};
    // The rule of the config's database.notify_channel, which the daemon LISTENs on.
    if (auto problem = config::check_identifier(schema.notify_channel, false); !problem.empty())
        throw UsageError("--notify-channel: " + problem);
    auto conn = pg::Connection::open(database_url(vm), 10, "sluice migrate");
    auto report = store::migrate(conn, schema);
    for (const auto& step : report.applied)
        std::cout << "applied " << step << "\n";
    std::cout << "schema up to date (" << report.applied.size() << " applied, "
              << report.already_applied << " already present)\n";
    return exit_ok;
}

}  // namespace sluice::daemon
