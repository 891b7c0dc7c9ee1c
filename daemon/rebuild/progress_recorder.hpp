// The progress of a rebuild's or rollback's replay, recorded in its row of sluice.rebuilds (at
// most once a second, and at the end), with the heartbeat of the unit's owners row for an owner
// that no coordinator heart-beats (the command line), and the command line's progress bar.
// Threading: the replaying thread. Error policy: pg::Error propagates (the replay stops).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "daemon/rebuild/blue_green.hpp"
#include "daemon/rebuild/progress.hpp"
#include "infra/pg/connection.hpp"

namespace sluice::daemon {

class ProgressRecorder {
  public:
    // `done_before`: events replayed by earlier runs (a resumed build); `total`: all to replay.
    ProgressRecorder(pg::Connection& conn, const config::Projection& projection,
                     const BlueGreenOptions& options, std::string label, std::int64_t done_before,
                     std::int64_t total);

    // After each batch: `events` replayed by this run so far; `final` records it whatever the
    // time since the last record.
    void batch(std::int64_t events, bool final = false);

  private:
    pg::Connection& conn_;
    const config::Projection& projection_;
    const BlueGreenOptions& options_;
    std::int64_t done_before_;
    std::int64_t total_;
    std::optional<Progress> bar_;
    std::chrono::steady_clock::time_point recorded_{};
};

}  // namespace sluice::daemon
