// What /status, /readyz and `sluice status` say, as pure functions of the daemon's state.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "engine/coordinator.hpp"
#include "engine/feed.hpp"
#include "engine/status.hpp"

namespace sluice::daemon {

struct DaemonState {
    std::vector<std::shared_ptr<const engine::SubscriberStatus>> subscribers;
    engine::FeedStats feed;
    engine::CoordinatorStats coordination;
    std::vector<std::string> config_errors;  // of the last failed reload; empty when it loaded
    std::string instance;                    // host:pid
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
//        "sqlstate","failed_event_id"}],"config_errors":[..]}; counts as integers, seconds as
//        plain decimals (json_text.hpp)
[[nodiscard]] std::string status_json(const DaemonState& state);

}  // namespace sluice::daemon
