// What /status, /readyz and `sluice status` say, as pure functions of the daemon's state.
#pragma once

#include <boost/json/array.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/coordinator.hpp"
#include "engine/feed.hpp"
#include "engine/status.hpp"
#include "infra/pg/result.hpp"

namespace sluice::daemon {

// A blue/green rebuild or rollback of a projection, as sluice.rebuilds records it
// (store/rebuilds.hpp); `running` false while building/verifying/swapping: its runner ended
// without finishing (interrupted; a daemon takes it up again).
struct RebuildView {
    std::string projection;
    std::string command;  // rebuild | rollback
    std::string phase;    // requested | building | verifying | swapping | done | failed | ...
    bool running = false;
    std::int64_t seconds = 0;  // since it started (was asked)
    std::string reason;
    std::string instance;  // that runs or ran it; "" before one took it
    std::int64_t done = 0;
    std::int64_t total = 0;
    std::string error;
    double rate = 0;  // events per second since it started
    // Seconds left at that rate; -1 when unknown.
    [[nodiscard]] double eta_seconds() const;
};

// A projection as /status shows it: `changed` lists the parts of its definition that differ
// from what its read model was built by (empty: built by the config's).
struct DefinitionView {
    std::string projection;
    std::vector<std::string> changed;
    std::string on_change;  // rebuild | continue
};
// The rows of store::rebuilds_sql.
[[nodiscard]] std::vector<RebuildView> rebuild_views(const pg::Result& r);

struct DaemonState {
    std::vector<std::shared_ptr<const engine::SubscriberStatus>> subscribers;
    engine::FeedStats feed;
    engine::CoordinatorStats coordination;
    std::vector<std::string> config_errors;   // of the last failed reload; empty when it loaded
    std::vector<RebuildView> rebuilds;        // as last read by the lag monitor
    std::vector<DefinitionView> definitions;  // as last compared by the monitor
    std::string instance;                     // host:pid
    std::chrono::steady_clock::time_point now;
    std::chrono::milliseconds stall_after{60000};  // no progress for this long = stalled
};

struct Readiness {
    bool ready = false;
    std::string reason;  // short, for the 503 body and logs
};

[[nodiscard]] Readiness readiness(const DaemonState& state);
// JSON: {"ready":..,"reason":..,"instance":..,"database":{..},"tailer":{..},
//        "coordination":{"connected","live_instances","owned":[..],"reconnects","last_error"},
//        "subscribers":[{"name","kind","state","position":{"transaction_id","event_id"},
//        "lag_events","lag_seconds","events","batches","errors","parked","quarantined","last_error",
//        "sqlstate","failed_event_id"}],"config_errors":[..],
//        "rebuilds":[{"projection","command","generation","phase","running","seconds","reason",
//        "instance","done","total","rate","eta_seconds","error"}],
//        "definitions":[{"projection","definition","changed":[..],"on_change"}]}; a projection's
//        subscribers (and parts) also carry "definition" ("current", "changed", or "unknown"
//        before the first comparison) and "changed"; counts as integers, seconds as plain
//        decimals (json_text.hpp)
[[nodiscard]] std::string status_json(const DaemonState& state);
// The "rebuilds" array of /status (also `sluice status` without a daemon).
[[nodiscard]] boost::json::array rebuilds_json(const std::vector<RebuildView>& rebuilds);
// The "definitions" array of /status (also `sluice status` without a daemon).
[[nodiscard]] boost::json::array definitions_json(const std::vector<DefinitionView>& definitions);

}  // namespace sluice::daemon
