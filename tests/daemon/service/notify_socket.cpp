#include "notify_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sluice::testing {

using Clock = std::chrono::steady_clock;

bool has_line(std::string_view datagram, std::string_view assignment) {
    while (!datagram.empty()) {
        auto nl = datagram.find('\n');
        if (datagram.substr(0, nl) == assignment)
            return true;
        if (nl == std::string_view::npos)
            break;
        datagram.remove_prefix(nl + 1);
    }
    return false;
}

NotifySocket::NotifySocket(const std::string& directory) : path_(directory + "/notify") {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path)
        throw std::runtime_error("notify socket path too long: " + path_);
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0)
        throw std::runtime_error("socket(AF_UNIX, SOCK_DGRAM): " +
                                 std::string(std::strerror(errno)));
    ::unlink(path_.c_str());
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        int err = errno;
        ::close(fd_);
        throw std::runtime_error("bind " + path_ + ": " + std::strerror(err));
    }
}

NotifySocket::~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
}

bool NotifySocket::receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n <= 0)
        return false;  // timeout, or EINTR: the caller's deadline loop asks again
    char buf[4096];
    ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got < 0)
        return false;
    messages_.emplace_back(buf, static_cast<std::size_t>(got));
    return true;
}

const std::vector<std::string>& NotifySocket::messages() {
    while (receive(std::chrono::milliseconds(0))) {
    }
    return messages_;
}

std::optional<std::size_t> NotifySocket::wait_for(std::string_view assignment,
                                                  std::chrono::milliseconds timeout,
                                                  std::size_t from) {
    auto deadline = Clock::now() + timeout;
    std::size_t checked = from;
    while (true) {
        (void)messages();
        for (; checked < messages_.size(); ++checked) {
            if (has_line(messages_[checked], assignment))
                return checked;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return std::nullopt;
        (void)receive(left);
    }
}

std::size_t NotifySocket::count(std::string_view assignment, std::size_t from) {
    (void)messages();
    std::size_t n = 0;
    for (std::size_t i = from; i < messages_.size(); ++i)
        n += has_line(messages_[i], assignment) ? 1 : 0;
    return n;
}

std::string NotifySocket::transcript() {
    std::string out = "--- notifications received ---\n";
    for (const auto& m : messages()) {
        std::string line = m;
        for (char& c : line) {
            if (c == '\n')
                c = '|';
        }
        out += line + "\n";
    }
    return out;
}

}  // namespace sluice::testing
