// The command-line surface: subcommands, option parsing, help text and exit codes.
// Error policy: commands return an exit code; UsageError (bad flags or values) maps to 2 in one
// place (dispatch), pg::Error to 1, anything else escaping a command to 1 with its message.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::pg {
class Connection;
}

namespace sluice::daemon {

namespace po = boost::program_options;

enum ExitCode : int { exit_ok = 0, exit_failure = 1, exit_usage = 2, exit_conflict = 3 };

inline constexpr const char* exit_codes_help =
    "Exit codes: 0 ok, 1 runtime failure (e.g. database unreachable), 2 usage, input or config\n"
    "error (nothing written), 3 version conflict (append only).\n";

class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct Command {
    std::string name;
    std::string summary;
    std::function<int(const std::vector<std::string>& args)> run;
};

// Runs argv[1] as a subcommand; prints the list on --help or when none is given.
int dispatch(const std::vector<Command>& commands, int argc, char** argv);

// Parses a subcommand's arguments. Returns false when --help was printed (exit 0). The help
// leaves out the options that `positional` fills: the synopsis shows those.
// Throws UsageError for unknown options or bad values.
bool parse_options(const std::string& command, const std::string& synopsis,
                   const po::options_description& options, const std::vector<std::string>& args,
                   po::variables_map& vm,
                   const po::positional_options_description* positional = nullptr);

// The database URL from --database-url or $DATABASE_URL; UsageError when neither is set.
[[nodiscard]] std::string database_url(const po::variables_map& vm);
// Adds --database-url and --events-table to a command's options.
void add_database_options(po::options_description& options);
// --events-table, checked: UsageError unless it is one or two plain identifiers.
[[nodiscard]] std::string events_table(const po::variables_map& vm);
// UsageError, naming `sluice migrate`, when the database has no `events_table` or no sluice
// schema: one sluice has never migrated, or the wrong database.
void require_events_table(pg::Connection& conn, const std::string& events_table);
void require_sluice_schema(pg::Connection& conn);

}  // namespace sluice::daemon
