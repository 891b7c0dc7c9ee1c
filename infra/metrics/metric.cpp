#include "infra/metrics/metric.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sluice::metrics {

void Counter::inc(double amount) {
    if (!(amount >= 0)) {
        throw std::invalid_argument("counter increment must be a non-negative number");
    }
    value_.fetch_add(amount, std::memory_order_relaxed);
}

std::vector<double> Histogram::validate_bounds(std::vector<double> upper_bounds) {
    if (!upper_bounds.empty() && std::isinf(upper_bounds.back()) && upper_bounds.back() > 0) {
        upper_bounds.pop_back();
    }
    for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
        if (!std::isfinite(upper_bounds[i])) {
            throw std::invalid_argument("histogram bucket bounds must be finite");
        }
        if (i > 0 && !(upper_bounds[i - 1] < upper_bounds[i])) {
            throw std::invalid_argument("histogram bucket bounds must be strictly increasing");
        }
    }
    return upper_bounds;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(validate_bounds(std::move(upper_bounds))),
      buckets_(new std::atomic<std::uint64_t>[upper_bounds_.size() + 1]) {
    for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
        buckets_[i].store(0, std::memory_order_relaxed);
    }
}

void Histogram::observe(double value) {
    // NaN compares false with every bound, so it lands in the +Inf slot only.
    const std::size_t slot =
        std::isnan(value) ? upper_bounds_.size()
                          : static_cast<std::size_t>(std::lower_bound(upper_bounds_.begin(),
                                                                      upper_bounds_.end(), value) -
                                                     upper_bounds_.begin());
    buckets_[slot].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

void Histogram::assign(const std::vector<std::uint64_t>& slot_counts, double sum) {
    if (slot_counts.size() != upper_bounds_.size() + 1) {
        throw std::invalid_argument("histogram assign: expected one count per bound plus +Inf");
    }
    for (std::size_t i = 0; i < slot_counts.size(); ++i) {
        buckets_[i].store(slot_counts[i], std::memory_order_relaxed);
    }
    sum_.store(sum, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::snapshot() const {
    HistogramSnapshot out;
    out.upper_bounds = upper_bounds_;
    out.cumulative.reserve(upper_bounds_.size());
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < upper_bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        out.cumulative.push_back(running);
    }
    running += buckets_[upper_bounds_.size()].load(std::memory_order_relaxed);
    out.count = running;
    out.sum = sum_.load(std::memory_order_relaxed);
    return out;
}

}  // namespace sluice::metrics
