// sluice: wires the libraries' subcommands into one binary.
#include "cli/commands.hpp"

int main(int argc, char** argv) {
    using namespace sluice::cli;
    const std::vector<Command> commands = {
        {"migrate", "create or update the sluice schema and the events table", migrate_command},
        {"append", "append events to an aggregate (or bulk-import a JSONL file)", append_command},
        {"events", "print an aggregate's history", events_command},
    };
    return dispatch(commands, argc, argv);
}
