// A repeated warning, let through at most once per interval: a receiver that fails every
// request would otherwise write a line per attempt (thousands a second under load) and bury
// everything else in the log. The line that goes through says how many were held back since
// the one before it. Pure: the caller passes the time; not thread-safe (one per owner).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace sluice::log {

class Throttle {
  public:
    using Clock = std::chrono::steady_clock;

    explicit Throttle(Clock::duration interval) : interval_(interval) {}

    // The number of lines held back since the last one let through (0 for the first), or
    // nullopt: hold this one back too.
    [[nodiscard]] std::optional<std::uint64_t> admit(Clock::time_point now);

  private:
    Clock::duration interval_;
    std::optional<Clock::time_point> last_;
    std::uint64_t held_ = 0;
};

}  // namespace sluice::log
