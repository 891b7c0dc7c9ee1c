// How `sluice rebuild NAME` runs a blue/green rebuild: it asks the running daemon (POST
// /rebuilds/NAME on http.listen), or, when none answers there but live instances share the
// database, records the request in sluice.rebuilds, where they pick it up; either way it then
// follows the rebuild's row to its end (progress on stderr, the outcome on stdout). When no
// daemon runs at all it runs the rebuild in this process, holding the unit `NAME@next` as an
// instance would, so a daemon started meanwhile does not run it too.
// Error policy: exit codes for outcomes (0 done, 1 failed / verify_failed / wait timed out);
// UsageError for what the daemon or the config refuses; pg::Error propagates.
#pragma once

#include <chrono>

#include "config/config.hpp"
#include "daemon/rebuild/blue_green.hpp"
#include "infra/pg/connection.hpp"

namespace sluice::daemon {

struct RebuildRequest {
    BlueGreenOptions blue_green;           // for a rebuild run here
    bool wait = true;                      // false: return once asked (--no-wait)
    std::chrono::seconds wait_timeout{0};  // 0: follow until it ends
};

int request_rebuild(pg::Connection& conn, const config::Config& config,
                    const config::Projection& projection, const RebuildRequest& request);

}  // namespace sluice::daemon
