// Any program as a child of a service test (prometheus, promtool, python3, pg_ctl, a shell that
// execs sluice): started with posix_spawn, stdout and stderr captured to one temp file, stopped
// by signals. The destructor SIGKILLs a child that still runs and reaps it. Every wait is
// bounded. For `sluice run` with its HTTP endpoint use DaemonProcess instead.
// Thread-safety: one ChildProcess is used from one thread. Error policy: std::runtime_error when
// the program cannot be started; how it ended is a return value.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "daemon_process.hpp"

namespace sluice::testing {

class ChildProcess {
  public:
    // argv[0] is the program's path. `env` adds to or overrides the test's environment, from
    // which the service-manager variables (NOTIFY_SOCKET, WATCHDOG_*, ...) are removed.
    [[nodiscard]] static ChildProcess spawn(const std::vector<std::string>& argv,
                                            const Environment& env = {});

    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&&) = delete;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] bool running();
    [[nodiscard]] std::string output() const;
    [[nodiscard]] std::string output_tail(std::size_t lines = 30) const;
    void kill(int signal);
    // nullopt when it still runs after `timeout`.
    [[nodiscard]] std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout);
    // SIGTERM, then SIGKILL when it has not ended within `grace`; returns how it ended.
    ExitStatus terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));

  private:
    ChildProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

    pid_t pid_ = -1;
    std::string log_path_;
    std::optional<ExitStatus> exit_;
};

struct CommandResult {
    ExitStatus status;
    std::string output;  // stdout and stderr interleaved
};

// Runs a program to completion, bounded by `timeout` (then SIGKILLed; the result says so).
[[nodiscard]] CommandResult run_command(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout,
                                        const Environment& env = {});

// The child's environment: this process's variables minus the service-manager ones, plus `extra`.
[[nodiscard]] std::vector<std::string> child_environment(const Environment& extra);

}  // namespace sluice::testing
