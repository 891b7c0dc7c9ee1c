// Delivery statistics per webhook, for the daemon's /metrics: queue sizes, in-flight count,
// disabled flag, attempts by outcome, attempt durations, and event-to-delivery latency.
// No global state: the publisher owns one OutboxStats and the daemon reads snapshots.
// Thread-safety: every member may be called from any thread (one mutex, held briefly).
// Error policy: never throws except std::bad_alloc; unknown webhook names are ignored.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::outbox {

// A Prometheus-style histogram: counts[i] observations <= bounds[i] (not cumulative); the
// last element of counts holds observations above every bound (+Inf).
struct Histogram {
    std::vector<double> bounds;  // seconds, ascending
    std::vector<std::uint64_t> counts;
    double sum = 0;
    std::uint64_t count = 0;

    explicit Histogram(std::vector<double> upper_bounds = {});
    void observe(double seconds);
};

// The outcome labels, in a fixed order: 2xx 3xx 4xx 5xx timeout network tls.
[[nodiscard]] const std::vector<std::string>& outcome_labels();

struct WebhookStats {
    std::string webhook;
    std::int64_t pending = -1;  // from the database, refreshed periodically; -1 = not yet known
    std::int64_t dead = -1;
    std::int64_t in_flight = 0;  // HTTP requests outstanding in this process
    bool disabled = false;
    std::uint64_t delivered = 0;
    std::map<std::string, std::uint64_t> attempts;  // by outcome label, every label present
    Histogram attempt_duration;                     // seconds per HTTP attempt
    Histogram delivery_latency;  // seconds from the event's timestamp to delivery
};

class OutboxStats {
  public:
    explicit OutboxStats(const std::vector<std::string>& webhooks);

    void record_attempt(std::string_view webhook, std::string_view label,
                        std::chrono::steady_clock::duration duration);
    void record_delivered(std::string_view webhook, std::chrono::system_clock::duration latency);
    void set_in_flight(std::string_view webhook, std::int64_t in_flight);
    void set_disabled(std::string_view webhook, bool disabled);
    void set_queue(std::string_view webhook, std::int64_t pending, std::int64_t dead);

    // Copies of every webhook's counters, in configuration order.
    [[nodiscard]] std::vector<WebhookStats> snapshot() const;

  private:
    WebhookStats* find(std::string_view webhook);

    mutable std::mutex mutex_;
    std::vector<WebhookStats> webhooks_;
};

}  // namespace sluice::outbox
