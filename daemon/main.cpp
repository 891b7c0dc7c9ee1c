// sluice: wires the libraries' subcommands into one binary.
#include "daemon/commands/commands.hpp"

int main(int argc, char** argv) {
    using namespace sluice;
    const std::vector<daemon::Command> commands = {
        {"run", "run the daemon: tail events into projections and webhooks", daemon::run_command},
        {"check-config", "validate a config file (--connect: also against the database)",
         daemon::check_config_command},
        {"status", "show every projection and webhook: position, lag, state, last error",
         daemon::status_command},
        {"rebuild",
         "rebuild a projection from the first event (beside the live one when it owns a schema)",
         daemon::rebuild_command},
        {"rollback", "make a projection's previous generation live again",
         daemon::rollback_command},
        {"outbox", "webhook outbox: status, list, show, retry, replay, enable",
         daemon::outbox_command},
        {"migrate", "create or update the sluice schema and the events table",
         daemon::migrate_command},
        {"append", "append events to an aggregate (or bulk-import a JSONL file)",
         daemon::append_command},
        {"events", "print an aggregate's history", daemon::events_command},
        {"state", "print an aggregate's state (its fold, from the latest snapshot)",
         daemon::state_command},
        {"parked", "events parked by a failing handler: list, retry, drop", daemon::parked_command},
        {"verify", "prove every matching event was applied, parked or enqueued",
         daemon::verify_command},
    };
    return daemon::dispatch(commands, argc, argv);
}
