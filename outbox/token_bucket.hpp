// A token bucket for a webhook's rate_limit, pure (the clock is a parameter): tokens accrue at
// `per_second` up to `capacity`; each request takes one. It starts full, so the first
// `capacity` requests go at once; after that, requests are paced at the rate.
// The capacity is a tenth of a second's worth (at least 1): enough to absorb a late timer
// wake-up without losing rate, small enough that any one-second window sees at most 1.1 times
// the rate.
// Threading: none (the worker's event-loop thread). Error policy: nothing throws.
#pragma once

#include <chrono>

namespace sluice::outbox {

class TokenBucket {
  public:
    using Clock = std::chrono::steady_clock;

    // per_second <= 0: unlimited (try_take always succeeds).
    TokenBucket(double per_second, Clock::time_point now);

    [[nodiscard]] bool limited() const { return per_second_ > 0; }
    [[nodiscard]] double capacity() const { return capacity_; }
    // Takes one token if there is one.
    [[nodiscard]] bool try_take(Clock::time_point now);
    // How long until a token is available (zero when one is).
    [[nodiscard]] Clock::duration wait(Clock::time_point now) const;

  private:
    [[nodiscard]] double tokens_at(Clock::time_point now) const;

    double per_second_;
    double capacity_;
    double tokens_;
    Clock::time_point updated_;
};

}  // namespace sluice::outbox
