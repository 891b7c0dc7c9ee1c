// A `sluice` child process for end-to-end tests: started with posix_spawn, its stdout and stderr
// captured to one temp file, observed through its log and its HTTP endpoint, stopped by signals.
// The destructor SIGKILLs a child that is still running and reaps it, so a failing test never
// leaves a daemon behind. Every wait is bounded.
// Thread-safety: one DaemonProcess is used from one thread. Error policy: std::runtime_error
// when the process cannot be started, an HTTP request fails or times out, or the port never
// appears in the log (messages carry the tail of the log); expected outcomes (a log line that
// did not appear in time, a process still running) are return values.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "infra/pg/connection.hpp"

namespace sluice::testing {

using Environment = std::vector<std::pair<std::string, std::string>>;

// How a process ended: an exit code, or the signal that killed it.
struct ExitStatus {
    bool exited = false;  // true: ended by exit(code); false: killed by `signal`
    int code = -1;
    int signal = 0;

    [[nodiscard]] bool is_exit(int c) const { return exited && code == c; }
    [[nodiscard]] std::string describe() const;  // "exit code 2" / "signal 9 (Killed)"
};

struct HttpResponse {
    int status = 0;
    std::string body;
};

class DaemonProcess {
  public:
    // Runs `sluice run --config <config_path>` (the binary from sluice_binary()); `env` adds to
    // or overrides this process's environment.
    [[nodiscard]] static DaemonProcess start(const std::string& config_path,
                                             const Environment& env = {});
    // Runs the sluice binary with arbitrary arguments (e.g. {"run", "-c", "bad.yaml"}).
    [[nodiscard]] static DaemonProcess spawn(const std::vector<std::string>& args,
                                             const Environment& env = {});
    // Runs any program (argv[0] is its path: prometheus, pg_ctl, a shell that execs sluice)
    // the same way; the HTTP helpers below apply only to sluice.
    [[nodiscard]] static DaemonProcess spawn_program(const std::vector<std::string>& argv,
                                                     const Environment& env = {});

    DaemonProcess(DaemonProcess&& other) noexcept;
    DaemonProcess& operator=(DaemonProcess&&) = delete;
    DaemonProcess(const DaemonProcess&) = delete;
    DaemonProcess& operator=(const DaemonProcess&) = delete;
    ~DaemonProcess();

    [[nodiscard]] pid_t pid() const { return pid_; }
    // Whether the child is still running (reaps it when it has ended).
    [[nodiscard]] bool running();

    // Everything the child wrote to stdout and stderr so far.
    [[nodiscard]] std::string output() const;
    // The last `lines` lines of output(), for failure messages.
    [[nodiscard]] std::string output_tail(std::size_t lines = 30) const;
    // Waits until `needle` occurs in the output at least `occurrences` times. False on timeout,
    // or as soon as the child has exited without writing it.
    [[nodiscard]] bool wait_for_log(std::string_view needle, std::chrono::milliseconds timeout,
                                    std::size_t occurrences = 1);
    [[nodiscard]] std::size_t count_in_log(std::string_view needle) const;

    // The port from the `msg="HTTP endpoint listening" ... port=N` line; waits for it (bounded).
    // Throws when it does not appear in time.
    [[nodiscard]] unsigned short http_port(
        std::chrono::milliseconds timeout = std::chrono::seconds(15));
    // A blocking HTTP/1.1 GET to 127.0.0.1:http_port() with a deadline; throws on any failure.
    [[nodiscard]] HttpResponse http_get(
        const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(3));

    // Sends `signal` to the child (no-op once it has been reaped).
    void kill(int signal);
    // Waits for the child to end; nullopt when it is still running after `timeout`.
    [[nodiscard]] std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout);
    // SIGTERM, then SIGKILL when it has not ended within `grace`; returns how it ended.
    ExitStatus terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));

  private:
    DaemonProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

    pid_t pid_ = -1;
    std::string log_path_;
    std::optional<ExitStatus> exit_;  // set once reaped
    std::optional<unsigned short> port_;
};

// A blocking HTTP/1.1 GET to 127.0.0.1:port (Connection: close, bounded response size).
[[nodiscard]] HttpResponse http_get(unsigned short port, const std::string& path,
                                    std::chrono::milliseconds timeout);

struct CommandResult {
    ExitStatus status;
    std::string output;  // stdout and stderr interleaved
};

// Runs a program to completion, bounded by `timeout` (then killed; the result says so).
[[nodiscard]] CommandResult run_command(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout,
                                        const Environment& env = {});

// For failure messages: whether sluice runs, its /status, the cluster's open transactions (they
// hold back the visibility horizon) and the tail of its log. Never throws.
[[nodiscard]] std::string describe_for_failure(DaemonProcess& daemon, pg::Connection& conn);

// A loopback port that was free a moment ago (the caller retries when it is taken meanwhile).
[[nodiscard]] unsigned short free_port();

}  // namespace sluice::testing
