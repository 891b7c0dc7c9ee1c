// Feeds the exposition of the sluice metric set plus families of every metric kind, tricky label
// values and special float values to the real `promtool check metrics` (parser plus lint).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <vector>

#include "daemon/metrics.hpp"

namespace sluice::daemon::metrics {
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
    SluiceMetrics m;
    auto& r = m.registry();
    auto& counter = prometheus::BuildCounter()
                        .Name("test_tricky_total")
                        .Help("Help with \"quotes\", {braces} and grüße.")
                        .Register(r);
    for (const char* value : {"back\\slash", "double\"quote", "new\nline", "", "grüße", "{}=,"}) {
        counter.Add({{"value", value}}).Increment(1.5);
    }
    auto& gauge = prometheus::BuildGauge()
                      .Name("test_special_values")
                      .Help("Special float values.")
                      .Register(r);
    gauge.Add({{"which", "inf"}}).Set(std::numeric_limits<double>::infinity());
    gauge.Add({{"which", "minus_inf"}}).Set(-std::numeric_limits<double>::infinity());
    gauge.Add({{"which", "nan"}}).Set(std::nan(""));
    gauge.Add({{"which", "tiny"}}).Set(1e-300);
    // prometheus-cpp writes 16 significant digits: the largest double would round past it.
    gauge.Add({{"which", "huge"}}).Set(1.5e308);
    auto& histogram =
        prometheus::BuildHistogram().Name("test_latency_seconds").Help("A histogram.").Register(r);
    auto& latency = histogram.Add({{"path", "a\"b"}}, std::vector<double>{0.001, 0.5, 1, 1e6});
    for (double v : {0.0, 0.0005, 0.7, 3.0, 2e6}) {
        latency.Observe(v);
    }
    const auto projection = m.add_subscriber(SubscriberKind::projection, "order\\summary\n\"x\"");
    projection->events_total.advance_to(3);
    const auto webhook = m.add_subscriber(SubscriberKind::webhook, "billing");
    webhook->batch_duration_seconds.Observe(0.2);
    m.outbox().add("billing").record_delivered(std::chrono::seconds(42));

    const std::string text = m.expose();
    EXPECT_EQ(promtool_check_metrics(text), 0) << text;
}

}  // namespace
}  // namespace sluice::daemon::metrics
