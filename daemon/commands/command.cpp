#include "daemon/commands/command.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>

#include "config/validate.hpp"
#include "daemon/commands/commands.hpp"
#include "infra/pg/connection.hpp"
#include "infra/pg/error.hpp"
#include "infra/pg/literal.hpp"

namespace sluice::daemon {
namespace {

void print_commands(std::ostream& out, const std::vector<Command>& commands) {
    out << "sluice " SLUICE_VERSION
           " - PostgreSQL event log to read models and webhooks\n\n"
           "Usage: sluice <command> [options]   (sluice <command> --help for details)\n\n"
           "Commands:\n";
    for (const Command& c : commands) {
        out << "  " << c.name << std::string(c.name.size() < 14 ? 14 - c.name.size() : 1, ' ')
            << c.summary << "\n";
    }
    out << "\n" << exit_codes_help;
}

}  // namespace

int dispatch(const std::vector<Command>& commands, int argc, char** argv) {
    if (argc < 2) {
        print_commands(std::cerr, commands);
        return exit_usage;
    }
    std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        print_commands(std::cout, commands);
        return exit_ok;
    }
    if (name == "--version") {
        std::cout << "sluice " SLUICE_VERSION "\n";
        return exit_ok;
    }
    for (const Command& c : commands) {
        if (c.name != name)
            continue;
        std::vector<std::string> args(argv + 2, argv + argc);
        try {
            return c.run(args);
        } catch (const UsageError& e) {
            std::cerr << "sluice " << name << ": " << e.what() << "\n";
            return exit_usage;
        } catch (const pg::Error& e) {
            const std::string sqlstate = pg::sqlstate_of(e);
            std::cerr << "sluice " << name << ": " << e.what()
                      << (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")") << "\n";
            return exit_failure;
        } catch (const std::exception& e) {
            std::cerr << "sluice " << name << ": " << e.what() << "\n";
            return exit_failure;
        }
    }
    std::cerr << "sluice: unknown command '" << name << "' (see sluice --help)\n";
    return exit_usage;
}

namespace {

// `options` without those that take positional arguments: they stay parseable, but the help
// shows them in the usage line (the synopsis), not as flags.
po::options_description visible_options(const po::options_description& options,
                                        const po::positional_options_description* positional) {
    std::set<std::string> hidden;
    if (positional != nullptr) {
        // An unbounded last name repeats; every other one appears within the first few places.
        const unsigned places = std::min(positional->max_total_count(), 64U);
        for (unsigned i = 0; i < places; ++i)
            hidden.insert(positional->name_for_position(i));
    }
    po::options_description visible("Options");  // the caption every command gives its own
    for (const auto& option : options.options()) {
        if (hidden.count(option->long_name()) == 0U)
            visible.add(option);
    }
    return visible;
}

}  // namespace

bool parse_options(const std::string& command, const std::string& synopsis,
                   const po::options_description& options, const std::vector<std::string>& args,
                   po::variables_map& vm, const po::positional_options_description* positional) {
    po::options_description all;
    all.add(options);
    all.add_options()("help,h", "show this help");
    try {
        // No guessing: a prefix such as `--event` must not silently become `--events-table`.
        auto parser = po::command_line_parser(args).options(all).style(
            po::command_line_style::default_style & ~po::command_line_style::allow_guessing);
        if (positional != nullptr)
            parser.positional(*positional);
        po::store(parser.run(), vm);
        if (vm.count("help") != 0U) {
            po::options_description shown = visible_options(options, positional);
            shown.add_options()("help,h", "show this help");
            std::cout << "Usage: sluice " << command << " " << synopsis << "\n\n"
                      << shown << "\n"
                      << exit_codes_help;
            return false;
        }
        po::notify(vm);
    } catch (const po::error& e) {
        throw UsageError(std::string(e.what()) + " (see sluice " + command + " --help)");
    }
    return true;
}

void add_database_options(po::options_description& options) {
    options.add_options()("database-url", po::value<std::string>(),
                          "libpq URL or key=value string (default: $DATABASE_URL)")(
        "events-table", po::value<std::string>()->default_value("events"),
        "the events table, optionally schema-qualified");
}

std::string database_url(const po::variables_map& vm) {
    if (vm.count("database-url") != 0U)
        return vm["database-url"].as<std::string>();
    if (const char* env = std::getenv("DATABASE_URL"); env != nullptr && *env != '\0')
        return env;
    throw UsageError("no database: pass --database-url or set DATABASE_URL");
}

std::string database_url(const po::variables_map& vm, const std::optional<config::Config>& config) {
    if (vm.count("database-url") != 0U)
        return vm["database-url"].as<std::string>();
    if (config)
        return config->database.url;
    return database_url(vm);
}

std::string events_table(const po::variables_map& vm) {
    std::string table = vm["events-table"].as<std::string>();
    // The rule of the config's database.events_table.
    if (auto problem = config::check_identifier(table, true); !problem.empty())
        throw UsageError("--events-table: " + problem);
    return table;
}

namespace {

bool table_exists(pg::Connection& conn, const std::string& qualified) {
    return conn.exec("SELECT to_regclass($1) IS NOT NULL", pg::Params(qualified)).boolean(0, 0);
}

}  // namespace

void require_events_table(pg::Connection& conn, const std::string& events_table) {
    if (!table_exists(conn, pg::quote_qualified(events_table))) {
        throw UsageError("this database has no events table '" + events_table +
                         "': run sluice migrate first (or check the database URL and "
                         "--events-table)");
    }
}

void require_sluice_schema(pg::Connection& conn) {
    if (!table_exists(conn, "sluice.schema_migrations")) {
        throw UsageError(
            "this database has no sluice schema: run sluice migrate first (or check the "
            "database URL)");
    }
}

}  // namespace sluice::daemon
