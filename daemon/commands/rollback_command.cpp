// `sluice rollback NAME`: makes the previous generation of a projection that owns a schema live
// again (daemon/rebuild/blue_green.hpp): caught up from its own checkpoint, then swapped in.
// It runs in this process, beside a running daemon (unlike a rebuild, never asked of one).
#include <unistd.h>

#include <iostream>

#include "daemon/commands/commands.hpp"
#include "daemon/commands/projection_target.hpp"
#include "daemon/rebuild/blue_green.hpp"
#include "infra/pg/literal.hpp"
#include "projections/schema.hpp"
#include "store/migrate.hpp"
#include "store/sessions.hpp"

namespace sluice::daemon {

int rollback_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    options.add_options()("config,c", po::value<std::string>()->required(), "YAML config file")(
        "name", po::value<std::string>(), "the projection to roll back")(
        "yes,y", po::bool_switch(), "do not ask for confirmation")(
        "lock-timeout", po::value<int>()->default_value(60),
        "seconds to wait for the swap's locks (the running daemon's batch, ...) (0: no limit)")(
        "names", po::value<std::vector<std::string>>(), "further names (an error)");
    po::positional_options_description positional;
    positional.add("name", 1).add("names", -1);
    po::variables_map vm;
    if (!parse_options("rollback",
                       "NAME --config FILE [--yes]\n\n"
                       "Makes the previous generation of a projection with schema: live again: "
                       "catches it up\nfrom its own checkpoint through the config's handlers, "
                       "then swaps it in with the\nsame short transaction as a rebuild; the "
                       "generation it replaces becomes the previous one.",
                       options, args, vm, &positional)) {
        return exit_ok;
    }
    auto target = projection_target("rollback", vm);
    if (!target)
        return exit_usage;
    const config::Projection& projection = target->projection();
    if (projection.schema.empty()) {
        throw UsageError("projection " + projection.name +
                         " owns no schema (schema:), so it has no previous generation to roll "
                         "back to");
    }
    if (!vm["yes"].as<bool>() && !isatty(STDIN_FILENO))
        throw UsageError("not on a terminal: pass --yes to roll back '" + projection.name + "'");
    const auto names = projections::generations(projection);
    if (!vm["yes"].as<bool>() &&
        !confirm("Roll projection '" + projection.name + "' back: catch schema " + names.previous +
                 " up and make it live again (the live one becomes the "
                 "previous)?")) {
        std::cerr << "rollback cancelled\n";
        return exit_ok;
    }
    auto conn = pg::Connection::open(target->url, 10, std::string(store::sessions::rollback));
    store::migrate(conn,
                   {target->config.database.events_table, target->config.database.notify_channel});
    BlueGreenOptions blue_green;
    blue_green.lock_timeout_seconds = vm["lock-timeout"].as<int>();
    blue_green.instance = "sluice rollback (pid " + std::to_string(getpid()) + ")";
    blue_green.reason = "sluice rollback";
    blue_green.progress_bar = true;
    try {
        auto outcome = roll_back(conn, target->config, projection, blue_green);
        std::cout << outcome.message << "\n";
    } catch (const Refused& e) {
        throw UsageError(e.what());
    }
    return exit_ok;
}

}  // namespace sluice::daemon
