// Exponential backoff with full jitter, bounded. Pure; the random source is injectable.
#pragma once

#include <chrono>
#include <random>

namespace sluice {

class Backoff {
  public:
    Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
        : initial_(initial), max_(max), next_(initial) {}

    // The delay before the next attempt: uniformly in [next/2, next], then next doubles.
    std::chrono::milliseconds next() {
        auto upper = next_;
        next_ = std::min(max_, next_ * 2);
        std::uniform_int_distribution<long long> d(upper.count() / 2, upper.count());
        return std::chrono::milliseconds(d(rng_));
    }
    void reset() { next_ = initial_; }

  private:
    std::chrono::milliseconds initial_;
    std::chrono::milliseconds max_;
    std::chrono::milliseconds next_;
    std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace sluice
