// Feeds the exposition of a registry that holds every metric kind, tricky label values and
// special float values to the real `promtool check metrics` (parser plus lint).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include "infra/metrics/sluice_metrics.hpp"

namespace sluice::metrics {
namespace {

struct PipeCloser {
    void operator()(FILE* f) const { (void)::pclose(f); }
};

// Exit status of `promtool check metrics` given `text` on stdin.
int promtool_check_metrics(const std::string& text) {
    FILE* raw = ::popen(SLUICE_PROMTOOL " check metrics", "w");
    if (raw == nullptr) {
        return -1;
    }
    std::unique_ptr<FILE, PipeCloser> pipe(raw);
    const bool written = std::fwrite(text.data(), 1, text.size(), raw) == text.size();
    const int status = ::pclose(pipe.release());
    if (!written || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

TEST(Promtool, AcceptsEveryMetricKindWithTrickyLabelValues) {
    Registry r;
    SluiceMetrics m(r);
    auto& counter = r.add_counter(
        "test_tricky_total", "Help with a backslash \\ and a\nnewline and \"quotes\".", {"value"});
    for (const char* value : {"back\\slash", "double\"quote", "new\nline", "", "grüße", "{}=,"}) {
        counter.with({value}).inc(1.5);
    }
    auto& gauge = r.add_gauge("test_special_values", "Special float values.", {"which"});
    gauge.with({"inf"}).set(std::numeric_limits<double>::infinity());
    gauge.with({"minus_inf"}).set(-std::numeric_limits<double>::infinity());
    gauge.with({"nan"}).set(std::nan(""));
    gauge.with({"tiny"}).set(1e-300);
    gauge.with({"huge"}).set(1.7976931348623157e308);
    auto& histogram =
        r.add_histogram("test_latency_seconds", "A histogram.", {"path"}, {0.001, 0.5, 1, 1e6});
    for (double v : {0.0, 0.0005, 0.7, 3.0, 2e6}) {
        histogram.with({"a\"b"}).observe(v);
    }
    m.add_subscriber(SubscriberKind::projection, "order\\summary\n\"x\"").events_total->inc(3);
    m.add_subscriber(SubscriberKind::webhook, "billing").batch_duration_seconds->observe(0.2);
    m.add_webhook("billing").delivery_latency_seconds->observe(42);

    const std::string text = r.expose();
    EXPECT_EQ(promtool_check_metrics(text), 0) << text;
}

}  // namespace
}  // namespace sluice::metrics
