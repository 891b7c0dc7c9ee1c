// Several `sluice run` processes with one config, in numbered slots: a slot's instance can be
// killed and started again (a new process in the same slot). Processes that ended are kept
// until the test ends, so their output is still there for failure messages (DaemonProcess keeps
// the log file of a failed test).
// Thread-safety: test thread only. Error policy: as DaemonProcess (std::runtime_error when a
// process cannot be started); kill9 reports a process that did not die as a test failure.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon_process.hpp"

namespace sluice::testing::fault {

class Instances {
  public:
    Instances(std::string config_path, std::size_t slots);

    [[nodiscard]] std::size_t size() const { return slots_.size(); }
    // Starts a new process in `slot` (the previous one there must have ended).
    DaemonProcess& start(std::size_t slot);
    void start_all();
    [[nodiscard]] DaemonProcess& at(std::size_t slot) { return *slots_.at(slot); }
    [[nodiscard]] bool running(std::size_t slot);

    // The slot whose running process has this pid.
    [[nodiscard]] std::optional<std::size_t> slot_of(int pid);
    [[nodiscard]] std::set<int> live_pids();
    [[nodiscard]] std::vector<std::size_t> live_slots();

    // kill -9 and reap (bounded); false (with a test failure) when it did not end by SIGKILL.
    bool kill9(std::size_t slot);
    // SIGTERM every running instance (bounded grace, then SIGKILL).
    void terminate_all();

    // Each running instance's pid and the tail of its log, for failure messages.
    [[nodiscard]] std::string describe(std::size_t log_lines = 12);

  private:
    std::string config_path_;
    std::vector<std::unique_ptr<DaemonProcess>> slots_;    // null until started
    std::vector<std::unique_ptr<DaemonProcess>> retired_;  // killed ones, kept for their logs
};

}  // namespace sluice::testing::fault
