// Readiness, status, reload and watchdog notifications to the service manager (sd_notify(3)).
// A Notifier is a stateless value: every call reads NOTIFY_SOCKET afresh, and when it is unset
// (not started by systemd with Type=notify) every call is a no-op that reports success.
// Thread-safe: each notification is one datagram sent on its own socket.
// Error policy: notifications are best-effort and never throw; a failed send returns its errno as
// a std::error_code so the caller can log it. Status text has newlines replaced by spaces, so it
// can never smuggle in another assignment such as READY=1. Never put secrets in status text.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace sluice::notify {

class Notifier {
  public:
    // True when NOTIFY_SOCKET is set, i.e. notifications go somewhere.
    [[nodiscard]] bool enabled() const;

    // READY=1 with a STATUS= line. Also sent again to end a reload started by reloading().
    std::error_code ready(std::string_view status) const;
    std::error_code status(std::string_view status) const;
    // RELOADING=1 plus MONOTONIC_USEC=<CLOCK_MONOTONIC now>, as Type=notify-reload (systemd 253+)
    // requires; older managers ignore the extra field. Follow with ready() when the reload ends.
    std::error_code reloading() const;
    std::error_code stopping() const;
    std::error_code watchdog() const;

    // The manager's watchdog timeout (WatchdogSec=) when the watchdog is enabled for this process;
    // ping at half of it. nullopt when disabled or when WATCHDOG_PID names another process.
    [[nodiscard]] std::optional<std::chrono::microseconds> watchdog_interval() const;

  private:
    std::error_code send(const std::string& message) const;
};

// Pure: the datagram text for each notification (exposed for tests).
[[nodiscard]] std::string ready_message(std::string_view status);
[[nodiscard]] std::string status_message(std::string_view status);
[[nodiscard]] std::string reloading_message(std::chrono::microseconds monotonic_now);

// Sends WATCHDOG=1 now and then every `ping_every` from the calling executor's event loop, so a
// wedged loop stops pinging and systemd restarts the process. Pass half of watchdog_interval().
// Runs until cancelled (cancellation ends it quietly); returns at once if ping_every <= 0.
// Taken by value: the coroutine frame owns its copy of the (stateless) Notifier.
boost::asio::awaitable<void> watchdog_loop(Notifier notifier, std::chrono::microseconds ping_every);

}  // namespace sluice::notify
