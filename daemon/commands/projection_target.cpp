#include "daemon/commands/projection_target.hpp"

#include <algorithm>
#include <iostream>

#include "daemon/commands/commands.hpp"

namespace sluice::daemon {
namespace {

// Why `name` is not a projection: it is a webhook, or no projection has it; lists them.
std::string not_a_projection(const config::Config& config, const std::string& name,
                             const std::string& path, const std::string& command) {
    std::string projections;
    for (const auto& p : config.projections)
        projections += (projections.empty() ? "" : ", ") + p.name;
    projections = projections.empty() ? "it has no projections" : "projections: " + projections;
    bool webhook = std::any_of(config.webhooks.begin(), config.webhooks.end(),
                               [&](const config::Webhook& w) { return w.name == name; });
    if (webhook) {
        return "'" + name + "' is a webhook in " + path + ", not a projection; only projections " +
               (command == "rebuild" ? "are rebuilt" : "have generations") + " (" + projections +
               ")";
    }
    return "no projection named '" + name + "' in " + path + " (" + projections + ")";
}

}  // namespace

std::optional<ProjectionTarget> projection_target(const std::string& command,
                                                  const po::variables_map& vm) {
    if (vm.count("name") == 0U) {
        throw UsageError("give the projection to " + command + ": sluice " + command +
                         " NAME --config FILE");
    }
    if (vm.count("names") != 0U) {
        throw UsageError(command + " takes one projection name, got also '" +
                         vm["names"].as<std::vector<std::string>>().front() + "'");
    }
    if (vm["lock-timeout"].as<int>() < 0) {
        throw UsageError("--lock-timeout must be 0 (no limit) or more seconds, got " +
                         std::to_string(vm["lock-timeout"].as<int>()));
    }
    const auto& path = vm["config"].as<std::string>();
    auto config = load_config_or_report(path);
    if (!config)
        return std::nullopt;
    const std::string name = vm["name"].as<std::string>();
    auto it = std::find_if(config->projections.begin(), config->projections.end(),
                           [&](const config::Projection& p) { return p.name == name; });
    if (it == config->projections.end())
        throw UsageError(not_a_projection(*config, name, path, command));
    ProjectionTarget target;
    target.index = static_cast<std::size_t>(it - config->projections.begin());
    // The replay holds a session lock: behind a transaction-mode pool it needs the direct
    // connection that listen_url names.
    const auto& database = config->database;
    target.url = database.url;
    if (database.pooling == pg::Pooling::transaction) {
        if (database.listen_url.empty()) {
            throw UsageError("sluice " + command +
                             " holds a session lock, which a transaction-mode pool cannot "
                             "keep: set database.listen_url to a direct connection "
                             "(database.pooling is transaction)");
        }
        target.url = database.listen_url;
    }
    target.config = std::move(*config);
    return target;
}

bool confirm(const std::string& question) {
    std::cerr << question << " [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace sluice::daemon
