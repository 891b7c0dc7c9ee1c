// The service manager's side of sd_notify(3) for tests: a unix datagram socket bound in a temp
// directory; pass path() as NOTIFY_SOCKET and read what the daemon announces. Every datagram is
// kept, in arrival order, so tests can check sequences (RELOADING=1 before READY=1).
// Thread-safety: one thread. Error policy: std::runtime_error when the socket cannot be created
// or bound; waits are bounded and return whether their condition held.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::testing {

class NotifySocket {
  public:
    // Binds <directory>/notify (the path must fit sockaddr_un: under ~100 characters).
    explicit NotifySocket(const std::string& directory);
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;
    ~NotifySocket();

    [[nodiscard]] const std::string& path() const { return path_; }

    // Every datagram received so far (reads what is queued first, without waiting).
    [[nodiscard]] const std::vector<std::string>& messages();
    // Waits until a datagram at index >= `from` contains the line `assignment` (e.g. "READY=1");
    // returns its index, or nullopt on timeout.
    [[nodiscard]] std::optional<std::size_t> wait_for(std::string_view assignment,
                                                      std::chrono::milliseconds timeout,
                                                      std::size_t from = 0);
    // How many datagrams at index >= `from` contain the line `assignment`.
    [[nodiscard]] std::size_t count(std::string_view assignment, std::size_t from = 0);
    // All datagrams, one per line with newlines shown as '|', for failure messages.
    [[nodiscard]] std::string transcript();

  private:
    // Reads one datagram if one arrives within `timeout`; false otherwise.
    bool receive(std::chrono::milliseconds timeout);

    std::string path_;
    int fd_ = -1;
    std::vector<std::string> messages_;
};

// Whether `datagram` holds `assignment` as one of its newline-separated lines.
[[nodiscard]] bool has_line(std::string_view datagram, std::string_view assignment);

}  // namespace sluice::testing
