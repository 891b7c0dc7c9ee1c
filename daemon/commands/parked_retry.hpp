// `sluice parked retry`: applies parked events again through the config's current handlers, in
// commit order, each in its own transaction with the removal of its parked row
// (engine/parked_retry.hpp). The sinks are the daemon's own (daemon/units.hpp). Runs its own
// event loop for the subscriber's AsyncConnection; nothing else runs on it.
// Error policy: returns the exit code; an event that fails is reported on stderr (event id,
// SQLSTATE, error) as exit_failure; UsageError when the one event asked for (--event) is no
// longer parked; a failed connect throws pg::Error.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "store/parked.hpp"

namespace sluice::daemon {

// `events`: parked events of `name` (or of its parts), in commit order. `single`: the operator
// named one event (--event), so its not being parked any more is a usage error. Prints one line
// per event and a summary on stdout.
int retry_parked_events(const config::Config& config, const std::string& name,
                        std::vector<store::ParkedEvent> events, bool single);

}  // namespace sluice::daemon
