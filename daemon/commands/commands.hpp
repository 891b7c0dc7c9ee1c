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

int run_command(const std::vector<std::string>& args);
int check_config_command(const std::vector<std::string>& args);
int status_command(const std::vector<std::string>& args);
int rebuild_command(const std::vector<std::string>& args);
int outbox_command(const std::vector<std::string>& args);
int migrate_command(const std::vector<std::string>& args);
int append_command(const std::vector<std::string>& args);
int events_command(const std::vector<std::string>& args);

}  // namespace sluice::daemon
