#include "outbox/stats.hpp"

#include "infra/metrics/sluice_metrics.hpp"

#include <algorithm>

namespace sluice::outbox {
namespace {

// The same bounds as the exported histograms, so the daemon can mirror them exactly.
const std::vector<double> duration_bounds = metrics::attempt_duration_buckets();
const std::vector<double> latency_bounds = metrics::delivery_latency_buckets();

double seconds(auto duration) {
    return std::chrono::duration<double>(duration).count();
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds(std::move(upper_bounds)), counts(bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
    auto it = std::lower_bound(bounds.begin(), bounds.end(), value);
    ++counts[static_cast<std::size_t>(it - bounds.begin())];
    sum += value;
    ++count;
}

const std::vector<std::string>& outcome_labels() {
    static const std::vector<std::string> labels = {"2xx",     "3xx",     "4xx", "5xx",
                                                    "timeout", "network", "tls"};
    return labels;
}

OutboxStats::OutboxStats(const std::vector<std::string>& webhooks) {
    for (const auto& name : webhooks) {
        WebhookStats s{.webhook = name,
                       .attempt_duration = Histogram(duration_bounds),
                       .delivery_latency = Histogram(latency_bounds)};
        for (const auto& label : outcome_labels())
            s.attempts[label] = 0;
        webhooks_.push_back(std::move(s));
    }
}

WebhookStats* OutboxStats::find(std::string_view webhook) {
    for (auto& s : webhooks_) {
        if (s.webhook == webhook)
            return &s;
    }
    return nullptr;
}

void OutboxStats::record_attempt(std::string_view webhook, std::string_view label,
                                 std::chrono::steady_clock::duration duration) {
    std::lock_guard lock(mutex_);
    if (auto* s = find(webhook)) {
        ++s->attempts[std::string(label)];
        s->attempt_duration.observe(seconds(duration));
    }
}

void OutboxStats::record_delivered(std::string_view webhook,
                                   std::chrono::system_clock::duration latency) {
    std::lock_guard lock(mutex_);
    if (auto* s = find(webhook)) {
        ++s->delivered;
        s->delivery_latency.observe(std::max(0.0, seconds(latency)));
    }
}

void OutboxStats::set_in_flight(std::string_view webhook, std::int64_t in_flight) {
    std::lock_guard lock(mutex_);
    if (auto* s = find(webhook))
        s->in_flight = in_flight;
}

void OutboxStats::set_disabled(std::string_view webhook, bool disabled) {
    std::lock_guard lock(mutex_);
    if (auto* s = find(webhook))
        s->disabled = disabled;
}

void OutboxStats::set_queue(std::string_view webhook, std::int64_t pending, std::int64_t dead) {
    std::lock_guard lock(mutex_);
    if (auto* s = find(webhook)) {
        s->pending = pending;
        s->dead = dead;
    }
}

std::vector<WebhookStats> OutboxStats::snapshot() const {
    std::lock_guard lock(mutex_);
    return webhooks_;
}

}  // namespace sluice::outbox
