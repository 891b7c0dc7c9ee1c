// The daemon's subcommands: run, check-config.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace sluice::app {

// Loads and validates a config file; prints every error (file:line:column) and returns nullopt.
std::optional<config::Config> load_config_or_report(const std::string& path);

int run_command(const std::vector<std::string>& args);
int check_config_command(const std::vector<std::string>& args);
int status_command(const std::vector<std::string>& args);
int rebuild_command(const std::vector<std::string>& args);
int outbox_command(const std::vector<std::string>& args);

}  // namespace sluice::app
