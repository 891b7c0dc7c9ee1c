// Webhook delivery metrics: the sluice_outbox_* and sluice_webhook_* families on a
// prometheus::Registry, and per webhook the handles that the publisher and its workers record into
// where things happen (an attempt finished, a row delivered, in-flight or disabled changed, queue
// sizes counted). Thread-safety: prometheus-cpp families and handles are thread-safe; add() and
// remove() may run on any thread. Lifetime: handles from add() stay valid until remove() for that
// webhook or until the DeliveryMetrics is destroyed; call remove() only once no worker uses them
// (the publisher that delivers to the webhook has finished).
// Error policy: never throws except std::bad_alloc.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "outbox/circuit.hpp"
#include "outbox/retry_policy.hpp"

namespace sluice::outbox {

// The circuit states in the order of WebhookMetrics::circuit.
inline constexpr std::array<CircuitState, 3> circuit_states = {
    CircuitState::closed, CircuitState::open, CircuitState::half_open};

// Bucket upper bounds, in seconds, of the two delivery histograms.
[[nodiscard]] std::vector<double> attempt_duration_buckets();
[[nodiscard]] std::vector<double> delivery_latency_buckets();

// One webhook's series, label {webhook}. Cheap to copy: references into the families.
struct WebhookMetrics {
    prometheus::Gauge* pending = nullptr;    // refreshed from the database periodically
    prometheus::Gauge* in_flight = nullptr;  // HTTP requests outstanding in this process
    prometheus::Gauge* dead = nullptr;
    prometheus::Gauge* disabled = nullptr;  // sluice_webhook_disabled
    // sluice_webhook_circuit_state{state}: 1 for this process's current state, by
    // circuit_states.
    std::array<prometheus::Gauge*, 3> circuit{};
    std::array<prometheus::Counter*, outcome_labels.size()> attempts{};  // by outcome_labels
    prometheus::Histogram* attempt_duration = nullptr;                   // seconds per attempt
    prometheus::Histogram* delivery_latency = nullptr;  // event timestamp to delivery, seconds

    // `outcome` is one of outcome_labels (Decision::label).
    void record_attempt(std::string_view outcome,
                        std::chrono::steady_clock::duration duration) const;
    void record_delivered(std::chrono::system_clock::duration latency) const;
    void set_queue(std::int64_t pending_rows, std::int64_t dead_rows) const;
    void set_circuit(CircuitState state) const;
    [[nodiscard]] prometheus::Counter& attempts_total(std::string_view outcome) const;
};

class DeliveryMetrics {
  public:
    // Registers the sluice_outbox_* families on `registry`, which must outlive this object.
    explicit DeliveryMetrics(prometheus::Registry& registry);
    DeliveryMetrics(const DeliveryMetrics&) = delete;
    DeliveryMetrics& operator=(const DeliveryMetrics&) = delete;

    // Every series of this webhook, created at zero (every outcome included); idempotent: an
    // existing webhook's handles, with their values, are returned.
    WebhookMetrics add(const std::string& webhook);
    // Stops exporting the webhook's series and frees them; see Lifetime above.
    void remove(const std::string& webhook);

  private:
    prometheus::Family<prometheus::Gauge>& pending_;
    prometheus::Family<prometheus::Gauge>& in_flight_;
    prometheus::Family<prometheus::Gauge>& dead_;
    prometheus::Family<prometheus::Gauge>& disabled_;
    prometheus::Family<prometheus::Gauge>& circuit_;
    prometheus::Family<prometheus::Counter>& attempts_;
    prometheus::Family<prometheus::Histogram>& attempt_duration_;
    prometheus::Family<prometheus::Histogram>& delivery_latency_;
};

}  // namespace sluice::outbox
