#include <iostream>

#include "daemon/commands/check_connect.hpp"
#include "daemon/commands/command.hpp"
#include "daemon/commands/commands.hpp"
#include "daemon/daemon.hpp"
#include "infra/log/log.hpp"
#include "store/migrate.hpp"

namespace sluice::daemon {

std::optional<config::Config> load_config_or_report(const std::string& path) {
    auto loaded = config::load_file(path, config::process_environment());
    for (const auto& d : loaded.errors)
        std::cerr << config::format(d) << "\n";
    if (!loaded.errors.empty()) {
        std::cerr << loaded.errors.size() << " error" << (loaded.errors.size() == 1 ? "" : "s")
                  << " in " << path << "\n";
    }
    return std::move(loaded.config);
}

int run_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    options.add_options()("config,c", po::value<std::string>()->required(), "YAML config file")(
        "drain", po::value<int>()->default_value(30),
        "seconds to let in-flight batches commit on SIGTERM");
    po::variables_map vm;
    if (!parse_options("run", "--config FILE", options, args, vm))
        return exit_ok;
    if (vm["drain"].as<int>() < 0) {
        throw UsageError("--drain must be 0 or more seconds, got " +
                         std::to_string(vm["drain"].as<int>()));
    }
    std::string path = vm["config"].as<std::string>();
    auto config = load_config_or_report(path);
    if (!config)
        return exit_usage;
    if (auto level = log::parse_level(config->log.level))
        log::set_level(*level);

    {
        // Migrations run before the event loop starts; they are idempotent and serialised.
        auto conn = pg::Connection::open(config->database.url,
                                         static_cast<int>(std::max<long long>(
                                             1, config->database.connect_timeout.count() / 1000)),
                                         "sluice run");
        auto report =
            store::migrate(conn, {config->database.events_table, config->database.notify_channel});
        for (const auto& step : report.applied)
            log::info("migration applied", {{"step", step}});
    }
    DaemonOptions daemon_options{path, std::chrono::seconds(vm["drain"].as<int>())};
    return run_daemon(std::move(*config), daemon_options);
}

int check_config_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    options.add_options()("config,c", po::value<std::string>()->required(), "YAML config file")(
        "connect", po::bool_switch(),
        "also check the database: the URL, the events table, and that every handler statement "
        "prepares (inside a transaction that is rolled back)");
    po::variables_map vm;
    if (!parse_options("check-config", "--config FILE [--connect]", options, args, vm)) {
        return exit_ok;
    }
    auto config = load_config_or_report(vm["config"].as<std::string>());
    if (!config)
        return exit_usage;
    if (vm["connect"].as<bool>()) {
        auto problems = check_against_database(*config);
        for (const auto& d : problems)
            std::cerr << config::format(d) << "\n";
        if (!problems.empty()) {
            std::cerr << problems.size() << " problem" << (problems.size() == 1 ? "" : "s")
                      << " found against the database\n";
            return exit_usage;
        }
    }
    std::cout << "ok: " << config->projections.size() << " projections, " << config->webhooks.size()
              << " webhooks, events table " << config->database.events_table
              << (vm["connect"].as<bool>() ? " (checked against the database)" : "") << "\n";
    for (const auto& p : config->projections) {
        std::cout << "  projection " << p.name << ": " << p.handlers.size() << " handlers";
        if (p.partitions > 1)
            std::cout << ", " << p.partitions << " partitions";
        std::cout << "\n";
    }
    for (const auto& w : config->webhooks)
        std::cout << "  webhook " << w.name << "\n";
    for (const auto& s : config->snapshots) {
        std::cout << "  snapshots of " << s.aggregate_type << ": " << s.apply.size()
                  << " event types folded, every " << s.every << " versions, keep " << s.keep;
        if (s.partitions > 1)
            std::cout << ", " << s.partitions << " partitions";
        std::cout << "\n";
    }
    return exit_ok;
}

}  // namespace sluice::daemon
