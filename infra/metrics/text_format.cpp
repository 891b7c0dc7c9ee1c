#include "infra/metrics/text_format.hpp"

#include <charconv>
#include <cmath>

namespace sluice::metrics {

std::string format_value(double value) {
    if (std::isnan(value)) {
        return "NaN";
    }
    if (std::isinf(value)) {
        return value > 0 ? "+Inf" : "-Inf";
    }
    char buffer[64];
    // Shortest representation that parses back to the same double (Go's ParseFloat accepts it).
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string escape_help(std::string_view help) {
    std::string out;
    out.reserve(help.size());
    for (const char c : help) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
    return out;
}

namespace {

std::string_view type_name(MetricType type) {
    switch (type) {
        case MetricType::counter:
            return "counter";
        case MetricType::gauge:
            return "gauge";
        case MetricType::histogram:
            return "histogram";
    }
    return "untyped";
}

// {a="x",b="y"} plus an optional trailing le="..."; nothing at all when there are no labels.
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view le = {}) {
    if (names.empty() && le.empty()) {
        return;
    }
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
        if (!first) {
            out += ',';
        }
        first = false;
        out += names[i];
        out += "=\"";
        out += escape_label_value(values[i]);
        out += '"';
    }
    if (!le.empty()) {
        if (!first) {
            out += ',';
        }
        out += "le=\"";
        out += le;
        out += '"';
    }
    out += '}';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const FamilySnapshot& family, const SeriesSnapshot& series,
                   const std::string& value, std::string_view le = {}) {
    out += name;
    out += suffix;
    append_labels(out, family.label_names, series.label_values, le);
    out += ' ';
    out += value;
    out += '\n';
}

void append_histogram(std::string& out, const FamilySnapshot& family,
                      const SeriesSnapshot& series) {
    const HistogramSnapshot& h = series.histogram;
    for (std::size_t i = 0; i < h.upper_bounds.size(); ++i) {
        const std::uint64_t cumulative = i < h.cumulative.size() ? h.cumulative[i] : h.count;
        append_sample(out, family.name, "_bucket", family, series, std::to_string(cumulative),
                      format_value(h.upper_bounds[i]));
    }
    append_sample(out, family.name, "_bucket", family, series, std::to_string(h.count), "+Inf");
    append_sample(out, family.name, "_sum", family, series, format_value(h.sum));
    append_sample(out, family.name, "_count", family, series, std::to_string(h.count));
}

}  // namespace

std::string render_text(std::span<const FamilySnapshot> families) {
    std::string out;
    for (const FamilySnapshot& family : families) {
        out += "# HELP ";
        out += family.name;
        out += ' ';
        out += escape_help(family.help);
        out += "\n# TYPE ";
        out += family.name;
        out += ' ';
        out += type_name(family.type);
        out += '\n';
        for (const SeriesSnapshot& series : family.series) {
            if (family.type == MetricType::histogram) {
                append_histogram(out, family, series);
            } else {
                append_sample(out, family.name, "", family, series, format_value(series.value));
            }
        }
    }
    return out;
}

}  // namespace sluice::metrics
