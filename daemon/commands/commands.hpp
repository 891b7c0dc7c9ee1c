// Every subcommand of the `sluice` binary, one function each, returning an exit code (see
// command.hpp for the codes and the parsing helpers they share).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/commands/command.hpp"

namespace sluice::daemon {

// Loads and validates a config file; prints every error (file:line:column) and returns nullopt.
std::optional<config::Config> load_config_or_report(const std::string& path);

// The database URL: --database-url, else the config's (when one was loaded), else $DATABASE_URL;
// UsageError when there is none.
[[nodiscard]] std::string database_url(const po::variables_map& vm,
                                       const std::optional<config::Config>& config);

int run_command(const std::vector<std::string>& args);
int check_config_command(const std::vector<std::string>& args);
int status_command(const std::vector<std::string>& args);
int rebuild_command(const std::vector<std::string>& args);
int rollback_command(const std::vector<std::string>& args);
int outbox_command(const std::vector<std::string>& args);
int migrate_command(const std::vector<std::string>& args);
int append_command(const std::vector<std::string>& args);
int events_command(const std::vector<std::string>& args);
int parked_command(const std::vector<std::string>& args);
int state_command(const std::vector<std::string>& args);
int verify_command(const std::vector<std::string>& args);

}  // namespace sluice::daemon
