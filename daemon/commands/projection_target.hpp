// What `sluice rebuild` and `sluice rollback` share: the projection NAME of a --config FILE (a
// webhook's name, or one no projection has, is a usage error that lists the projections), the
// confirmation question, and the URL of a connection that can hold a session lock.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"
#include "daemon/commands/command.hpp"

namespace sluice::daemon {

struct ProjectionTarget {
    config::Config config;
    std::size_t index = 0;
    std::string url;  // a direct connection: listen_url behind a transaction-mode pool

    [[nodiscard]] const config::Projection& projection() const { return config.projections[index]; }
};

// From the parsed `name`, `names` and `config` options; nullopt when the config has errors
// (printed). Throws UsageError for a missing, extra or unknown name.
[[nodiscard]] std::optional<ProjectionTarget> projection_target(const std::string& command,
                                                                const po::variables_map& vm);

// Asks `question` [y/N] on the terminal; true for y or yes.
[[nodiscard]] bool confirm(const std::string& question);

}  // namespace sluice::daemon
