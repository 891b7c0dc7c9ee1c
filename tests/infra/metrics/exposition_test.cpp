#include "infra/metrics/exposition.hpp"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "infra/metrics/mirrored_counter.hpp"
#include "infra/metrics/process_metrics.hpp"

namespace sluice::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(Expose, WritesEverySourceInTheTextFormat) {
    prometheus::Registry registry;
    prometheus::BuildCounter()
        .Name("test_requests_total")
        .Help("Requests.")
        .Register(registry)
        .Add({{"path", "/a"}})
        .Increment(2);
    const ProcessCollector process;
    const std::string text = expose({&registry, &process});
    EXPECT_TRUE(text.starts_with("# HELP test_requests_total Requests.\n")) << text;
    EXPECT_TRUE(has_line(text, "# TYPE test_requests_total counter")) << text;
    EXPECT_TRUE(has_line(text, "test_requests_total{path=\"/a\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "# TYPE process_cpu_seconds_total counter")) << text;
    EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos) << text;
}

TEST(Expose, WritesNothingForNoSources) {
    EXPECT_EQ(expose({}), "");
}

TEST(MirroredCounter, AdvancesByWhatTheTotalGained) {
    prometheus::Counter counter;
    MirroredCounter mirror(counter);
    mirror.advance_to(5);
    mirror.advance_to(5);
    mirror.advance_to(8);
    EXPECT_EQ(counter.Value(), 8);
}

TEST(MirroredCounter, CountsATotalThatRestartedFromZeroOnTopOfTheOldOne) {
    prometheus::Counter counter;
    MirroredCounter mirror(counter);
    mirror.advance_to(10);
    mirror.advance_to(3);  // the source restarted and has counted 3 since
    mirror.advance_to(4);
    EXPECT_EQ(counter.Value(), 14);
}

}  // namespace
}  // namespace sluice::metrics
