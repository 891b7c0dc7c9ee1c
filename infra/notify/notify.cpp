#include "infra/notify/notify.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace sluice::notify {
namespace {

// sd_notify separates assignments by newlines; a newline in free text would start a new one.
std::string one_line(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c == '\n' || c == '\r' || c == '\0')
            c = ' ';
    }
    return out;
}

std::chrono::microseconds monotonic_now() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::duration_cast<std::chrono::microseconds>(
                                                 std::chrono::nanoseconds(ts.tv_nsec));
}

}  // namespace

std::string ready_message(std::string_view status) {
    return "READY=1\nSTATUS=" + one_line(status);
}

std::string status_message(std::string_view status) {
    return "STATUS=" + one_line(status);
}

std::string reloading_message(std::chrono::microseconds monotonic_now) {
    return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_now.count());
}

bool Notifier::enabled() const {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    return socket != nullptr && *socket != '\0';
}

std::error_code Notifier::send(const std::string& message) const {
    // unset_environment=0: the watchdog and later notifications still need NOTIFY_SOCKET.
    const int rc = sd_notify(0, message.c_str());
    if (rc < 0)
        return {-rc, std::system_category()};
    return {};
}

std::error_code Notifier::ready(std::string_view status) const {
    return send(ready_message(status));
}

std::error_code Notifier::status(std::string_view status) const {
    return send(status_message(status));
}

std::error_code Notifier::reloading() const {
    return send(reloading_message(monotonic_now()));
}

std::error_code Notifier::stopping() const {
    return send("STOPPING=1");
}

std::error_code Notifier::watchdog() const {
    return send("WATCHDOG=1");
}

std::optional<std::chrono::microseconds> Notifier::watchdog_interval() const {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return std::nullopt;
    return std::chrono::microseconds(usec);
}

}  // namespace sluice::notify
