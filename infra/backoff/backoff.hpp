// Exponential backoff, bounded: every delay is twice the one before, up to `max` (a first delay
// above `max` is kept once, then `max`). Jitter::half, for reconnects, draws each delay
// uniformly from [d/2, d] so that processes that lost the same server do not retry in step;
// Jitter::none returns d itself, for a schedule users configure (on_error's `backoff`).
// Pure: no clock, no I/O; the random source is seeded by the caller or by random_device.
// Threading: a value owned by one task.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace sluice {

class Backoff {
  public:
    enum class Jitter { none, half };

    Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
            Jitter jitter = Jitter::half, unsigned seed = std::random_device{}())
        : initial_(initial), max_(max), next_(initial), jitter_(jitter), rng_(seed) {}

    // The delay before the next attempt; the one after it doubles.
    std::chrono::milliseconds next() {
        auto upper = next_;
        next_ = std::min(max_, next_ * 2);
        if (jitter_ == Jitter::none)
            return upper;
        std::uniform_int_distribution<long long> d(upper.count() / 2, upper.count());
        return std::chrono::milliseconds(d(rng_));
    }
    // After a success: the next failure waits `initial` again.
    void reset() { next_ = initial_; }

  private:
    std::chrono::milliseconds initial_;
    std::chrono::milliseconds max_;
    std::chrono::milliseconds next_;
    Jitter jitter_;
    std::minstd_rand rng_;
};

}  // namespace sluice
