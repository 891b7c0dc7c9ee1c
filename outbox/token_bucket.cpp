#include "outbox/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace sluice::outbox {

TokenBucket::TokenBucket(double per_second, Clock::time_point now)
    : per_second_(per_second),
      capacity_(std::max(1.0, std::floor(per_second / 10))),
      tokens_(capacity_),
      updated_(now) {}

double TokenBucket::tokens_at(Clock::time_point now) const {
    const double elapsed = std::chrono::duration<double>(now - updated_).count();
    return std::min(capacity_, tokens_ + std::max(0.0, elapsed) * per_second_);
}

bool TokenBucket::try_take(Clock::time_point now) {
    if (!limited())
        return true;
    const double tokens = tokens_at(now);
    if (tokens < 1.0)
        return false;
    tokens_ = tokens - 1.0;
    updated_ = std::max(updated_, now);
    return true;
}

TokenBucket::Clock::duration TokenBucket::wait(Clock::time_point now) const {
    if (!limited())
        return Clock::duration::zero();
    const double missing = 1.0 - tokens_at(now);
    if (missing <= 0)
        return Clock::duration::zero();
    return std::chrono::duration_cast<Clock::duration>(
               std::chrono::duration<double>(missing / per_second_)) +
           Clock::duration(1);  // round up: at the instant returned a whole token is there
}

}  // namespace sluice::outbox
