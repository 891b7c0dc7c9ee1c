// Pure parsers for the value syntaxes the configuration uses: durations ("250ms", "5s", "10m",
// "5min", "2h", "7d"), sizes ("512B", "4KiB", "1MiB", "1GiB" or a plain byte count), fractions
// ("20%" or "0.2") and rates ("20/s"). Error policy: never throws; a failed parse carries a
// message that may quote the offending text (callers must not pass secrets through these
// parsers).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sluice::config {

template <class T>
struct Parsed {
    using value_type = T;
    std::optional<T> value;
    std::string error;  // set when value is empty
};

[[nodiscard]] Parsed<Duration> parse_duration(std::string_view text);
[[nodiscard]] Parsed<std::size_t> parse_size(std::string_view text);
[[nodiscard]] Parsed<double> parse_fraction(std::string_view text);  // 0..1
[[nodiscard]] Parsed<long long> parse_integer(std::string_view text);
[[nodiscard]] Parsed<bool> parse_bool(std::string_view text);  // true | false
// "20/s", "600/min", "3600/h": a positive count per unit, as requests per second.
[[nodiscard]] Parsed<double> parse_rate(std::string_view text);

// "5s", "5min", "250ms": the largest unit that expresses the duration exactly.
[[nodiscard]] std::string format_duration(Duration d);

}  // namespace sluice::config
