// The subcommands this library provides. Each returns an exit code (see command.hpp).
#pragma once

#include <string>
#include <vector>

#include "cli/command.hpp"

namespace sluice::cli {

int migrate_command(const std::vector<std::string>& args);
int append_command(const std::vector<std::string>& args);
int events_command(const std::vector<std::string>& args);

}  // namespace sluice::cli
