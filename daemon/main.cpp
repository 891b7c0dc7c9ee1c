// sluice: wires the libraries' subcommands into one binary.
#include "app/commands.hpp"
#include "cli/commands.hpp"

int main(int argc, char** argv) {
    using namespace sluice;
    const std::vector<cli::Command> commands = {
        {"run", "run the daemon: tail events into projections and webhooks", app::run_command},
        {"check-config", "validate a config file without touching a database",
         app::check_config_command},
        {"status", "show every projection and webhook: position, lag, state, last error",
         app::status_command},
        {"rebuild", "reset a projection and replay it from the first event", app::rebuild_command},
        {"outbox", "webhook outbox: status, list, retry, enable", app::outbox_command},
        {"migrate", "create or update the sluice schema and the events table",
         cli::migrate_command},
        {"append", "append events to an aggregate (or bulk-import a JSONL file)",
         cli::append_command},
        {"events", "print an aggregate's history", cli::events_command},
    };
    return cli::dispatch(commands, argc, argv);
}
