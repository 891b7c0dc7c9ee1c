#include "infra/metrics/text_format.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace sluice::metrics {
namespace {

TEST(FormatValue, WritesSpecialValuesAsPrometheusSpellsThem) {
    EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
    EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(FormatValue, WritesTheShortestRoundTripDecimal) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(42), "42");
    EXPECT_EQ(format_value(0.1), "0.1");
    EXPECT_EQ(format_value(-2.5), "-2.5");
    EXPECT_EQ(std::stod(format_value(1700000000.123)), 1700000000.123);
    EXPECT_EQ(std::stod(format_value(1e300)), 1e300);
}

TEST(EscapeLabelValue, EscapesBackslashQuoteAndNewlineOnly) {
    EXPECT_EQ(escape_label_value(R"(a\b"c)"
                                 "\n\td"),
              R"(a\\b\"c\n)"
              "\td");
    EXPECT_EQ(escape_label_value("grüße"), "grüße");
}

TEST(EscapeHelp, EscapesBackslashAndNewlineButNotQuotes) {
    EXPECT_EQ(escape_help("say \"hi\"\\\nnext"), "say \"hi\"\\\\\\nnext");
}

TEST(RenderText, WritesHelpTypeAndLabelledSamples) {
    const FamilySnapshot family{"jobs_total",
                                "Jobs done.",
                                MetricType::counter,
                                {"queue", "kind"},
                                {{{"a", "x\"y"}, 3, {}}, {{"b", ""}, 0.5, {}}}};
    EXPECT_EQ(render_text({&family, 1}),
              "# HELP jobs_total Jobs done.\n"
              "# TYPE jobs_total counter\n"
              "jobs_total{queue=\"a\",kind=\"x\\\"y\"} 3\n"
              "jobs_total{queue=\"b\",kind=\"\"} 0.5\n");
}

TEST(RenderText, WritesUnlabelledSamplesWithoutBraces) {
    const FamilySnapshot family{"up_now", "Up.", MetricType::gauge, {}, {{{}, 1, {}}}};
    EXPECT_EQ(render_text({&family, 1}), "# HELP up_now Up.\n# TYPE up_now gauge\nup_now 1\n");
}

TEST(RenderText, WritesCumulativeBucketsWithInfThenSumAndCount) {
    FamilySnapshot family{"req_seconds", "Latency.", MetricType::histogram, {"path"}, {}};
    family.series.push_back({{"/x"}, 0, {{0.5, 1}, {1, 3}, 4, 7.25}});
    EXPECT_EQ(render_text({&family, 1}),
              "# HELP req_seconds Latency.\n"
              "# TYPE req_seconds histogram\n"
              "req_seconds_bucket{path=\"/x\",le=\"0.5\"} 1\n"
              "req_seconds_bucket{path=\"/x\",le=\"1\"} 3\n"
              "req_seconds_bucket{path=\"/x\",le=\"+Inf\"} 4\n"
              "req_seconds_sum{path=\"/x\"} 7.25\n"
              "req_seconds_count{path=\"/x\"} 4\n");
}

TEST(RenderText, WritesAnUnlabelledHistogramWithOnlyTheLeLabel) {
    FamilySnapshot family{"h", "H.", MetricType::histogram, {}, {}};
    family.series.push_back({{}, 0, {{1}, {0}, 0, 0}});
    EXPECT_EQ(render_text({&family, 1}),
              "# HELP h H.\n# TYPE h histogram\n"
              "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

TEST(RenderText, WritesHelpAndTypeForAFamilyWithoutSeries) {
    const FamilySnapshot family{"empty_total", "Nothing yet.", MetricType::counter, {"a"}, {}};
    EXPECT_EQ(render_text({&family, 1}),
              "# HELP empty_total Nothing yet.\n# TYPE empty_total counter\n");
}

}  // namespace
}  // namespace sluice::metrics
