#include "infra/log/throttle.hpp"

namespace sluice::log {

std::optional<std::uint64_t> Throttle::admit(Clock::time_point now) {
    if (last_ && now - *last_ < interval_) {
        ++held_;
        return std::nullopt;
    }
    last_ = now;
    auto held = held_;
    held_ = 0;
    return held;
}

}  // namespace sluice::log
