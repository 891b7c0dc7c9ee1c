// The daemon's subcommands: run, check-config.
#pragma once

#include <string>
#include <vector>

namespace sluice::app {

int run_command(const std::vector<std::string>& args);
int check_config_command(const std::vector<std::string>& args);

}  // namespace sluice::app
