// The three metric kinds. Every update is thread-safe and lock-free (atomics), so they may be
// called from any thread, including the hot path of a projection batch.
// Error policy: programming errors (a negative counter increment, unsorted histogram buckets)
// throw std::invalid_argument; nothing else throws.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "infra/metrics/text_format.hpp"

namespace sluice::metrics {

// Monotonic total. Starts at 0.
class Counter {
  public:
    void inc(double amount = 1);
    // For collect hooks that mirror a total kept elsewhere (e.g. CPU seconds from /proc):
    // the caller promises the value never decreases while the process runs.
    void set_total(double total) { value_.store(total, std::memory_order_relaxed); }
    [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<double> value_{0};
};

// A value that goes up and down. Starts at 0.
class Gauge {
  public:
    void set(double value) { value_.store(value, std::memory_order_relaxed); }
    void inc(double amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
    void dec(double amount = 1) { value_.fetch_sub(amount, std::memory_order_relaxed); }
    [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, inclusive), plus their sum.
// A snapshot is consistent in itself: _count equals the +Inf bucket because both are derived
// from the same bucket reads; the sum may lag an in-progress observe() by one observation.
class Histogram {
  public:
    // upper_bounds: finite and strictly increasing; a trailing +Inf is accepted and dropped.
    explicit Histogram(std::vector<double> upper_bounds);

    void observe(double value);
    // Mirrors a histogram kept elsewhere with the same bounds: per-slot (not cumulative)
    // counts, one per bound plus the +Inf slot, and the sum. Throws std::invalid_argument on a
    // slot count mismatch.
    void assign(const std::vector<std::uint64_t>& slot_counts, double sum);
    [[nodiscard]] HistogramSnapshot snapshot() const;
    [[nodiscard]] const std::vector<double>& upper_bounds() const { return upper_bounds_; }

    // Throws std::invalid_argument unless the bounds are usable; returns them without +Inf.
    [[nodiscard]] static std::vector<double> validate_bounds(std::vector<double> upper_bounds);

  private:
    std::vector<double> upper_bounds_;
    // One slot per bound plus the +Inf slot; not cumulative (cumulated in snapshot()).
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
    std::atomic<double> sum_{0};
};

}  // namespace sluice::metrics
