// The rebuilds this daemon runs. A blue/green rebuild asked in sluice.rebuilds (phase
// 'requested', or building/verifying/swapping whose runner's session has ended: interrupted)
// is the unit of work `NAME@next`, shared among instances by the engine::Coordinator like a
// projection's unit (daemon/daemon_work.hpp joins both): one instance owns it, and it moves
// when that instance dies. The owner runs the blue/green code (blue_green.hpp) on its own
// blocking connection in a std::thread, never on the event loop; its batches present the unit's
// owner (fencing), and it stops between batches when the unit is let go or the daemon stops,
// leaving the rebuild resumable from `NAME@next`'s checkpoint. The thread reports through the
// row (phase, progress, outcome) and a Completion posted back to the event loop.
// Threading: every member function on the event-loop thread; each run's thread touches only its
// Run (atomics, and fields read after its Completion is set). Error policy: failures of a run
// are logged and recorded in its row (blue_green.hpp); nothing here throws to the caller.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "daemon/status_report.hpp"
#include "infra/async/completion.hpp"

namespace sluice::daemon {

namespace asio = boost::asio;

class RebuildWork {
  public:
    using Clock = std::chrono::steady_clock;

    // `handoff`: how long own() waits for a run it stops (between two batches).
    RebuildWork(asio::any_io_executor ex, std::string instance, std::chrono::milliseconds handoff);
    RebuildWork(const RebuildWork&) = delete;
    RebuildWork& operator=(const RebuildWork&) = delete;
    // Stops and joins the runs still going (blocking: only at the end of the daemon).
    ~RebuildWork();

    // The config whose projections it rebuilds (at start and on every reload).
    void set_config(const config::Config& config);
    // The rows of sluice.rebuilds, as read by a query sent at `asked`.
    void observe(const std::vector<RebuildView>& rows, Clock::time_point asked);

    // `NAME@next` of each rebuild to run or running here.
    [[nodiscard]] std::vector<std::string> units() const;
    // The rebuild units this instance owns now, each with its owner (fencing token).
    asio::awaitable<void> own(std::map<std::string, std::string> owned);
    // Units whose run found that another instance owns them now.
    [[nodiscard]] std::vector<std::string> handed_over();
    // Stops every run (shutdown), bounded by `drain`; false if some did not end in time.
    asio::awaitable<bool> stop_all(std::chrono::milliseconds drain);
    // The units of projections whose rebuild swapped in (here or on another instance) since the
    // last call: each projection's name and its parts'.
    [[nodiscard]] std::vector<std::string> take_swapped();
    // Called on the event loop when a run here ends, so that the daemon reads the rows again at
    // once (status then shows how it ended without waiting for the next round).
    void on_end(std::function<void()> f) { on_end_ = std::move(f); }

  private:
    struct Run {
        explicit Run(asio::any_io_executor ex) : done(std::move(ex)) {}
        std::string unit;
        std::string projection;
        std::string owner;
        std::atomic<bool> stop{false};
        // Written by the thread before it posts `done`; read after.
        bool swapped = false;
        bool lost_ownership = false;
        Completion done;              // set on the event loop once the thread has ended
        std::function<void()> ended;  // on_end's, called right after `done` is set
        std::thread thread;
    };

    [[nodiscard]] bool eligible(const RebuildView& row) const;
    // Starts the runs of owned units whose row asks for one and that run nowhere here.
    void start_due();
    void start(const std::string& unit, const std::string& projection);
    asio::awaitable<bool> stop_runs(std::vector<std::shared_ptr<Run>> runs,
                                    std::chrono::milliseconds bound);
    // Joins the threads of ended runs and forgets them.
    void reap();

    asio::any_io_executor ex_;
    std::string instance_;
    std::chrono::milliseconds handoff_;
    std::shared_ptr<const config::Config> config_;
    std::map<std::string, RebuildView> rows_;  // by projection, as last read
    Clock::time_point rows_asked_{};
    std::map<std::string, std::string> owned_;           // unit -> owner
    std::map<std::string, std::shared_ptr<Run>> runs_;   // by unit
    std::vector<std::shared_ptr<Run>> draining_;         // stopped, still in a batch
    std::map<std::string, Clock::time_point> ended_at_;  // by unit: when its last run here ended
    std::map<std::string, std::string> seen_phase_;      // by projection
    std::vector<std::string> swapped_;
    std::function<void()> on_end_;
};

}  // namespace sluice::daemon
