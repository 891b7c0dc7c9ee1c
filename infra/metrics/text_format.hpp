// Prometheus text exposition format 0.0.4, as pure functions over plain snapshots: no locks,
// no registry, no I/O, so every escaping and formatting rule is unit-testable.
// Error policy: never throws except std::bad_alloc; inputs are rendered as given (the registry
// validates names before anything reaches here).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::metrics {

// The Content-Type that an HTTP endpoint serving render_text() output must send.
inline constexpr std::string_view text_content_type = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { counter, gauge, histogram };

struct HistogramSnapshot {
    std::vector<double> upper_bounds;       // finite, strictly increasing; +Inf implied
    std::vector<std::uint64_t> cumulative;  // one per upper bound: observations <= bound
    std::uint64_t count = 0;                // all observations: the +Inf bucket and _count
    double sum = 0;
};

struct SeriesSnapshot {
    std::vector<std::string> label_values;  // one per FamilySnapshot::label_names
    double value = 0;                       // counter and gauge
    HistogramSnapshot histogram;            // histogram only
};

struct FamilySnapshot {
    std::string name;
    std::string help;
    MetricType type = MetricType::gauge;
    std::vector<std::string> label_names;
    std::vector<SeriesSnapshot> series;
};

// A float as Prometheus parses it: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
[[nodiscard]] std::string format_value(double value);
// Label value escaping: backslash, double quote and newline become \\, \" and \n.
[[nodiscard]] std::string escape_label_value(std::string_view value);
// HELP text escaping: backslash and newline only.
[[nodiscard]] std::string escape_help(std::string_view help);
// HELP and TYPE lines for every family, then its samples; histograms as cumulative
// _bucket{le=...} lines including +Inf, then _sum and _count.
[[nodiscard]] std::string render_text(std::span<const FamilySnapshot> families);

}  // namespace sluice::metrics
