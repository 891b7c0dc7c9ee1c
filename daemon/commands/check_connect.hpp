// `sluice check-config --connect`: checks a valid config against the database without changing
// it: the URL connects, the events table exists with sluice's column, every handler
// statement prepares (after the projection's setup ran), and every webhook filter:/body:,
// upcaster when:/payload: and fold expression parses and has its type, all inside one
// transaction that is rolled back. Error policy: problems are returned as diagnostics; pg::Error
// escapes only when the database cannot be reached at all.
#pragma once

#include <vector>

#include "config/config.hpp"

namespace sluice::daemon {

[[nodiscard]] std::vector<config::Diagnostic> check_against_database(const config::Config& c);

}  // namespace sluice::daemon
