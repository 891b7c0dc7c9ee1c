#include "config/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace sluice::config {
namespace {

struct Unit {
    std::string_view suffix;
    long long factor;
};

constexpr long long ms_per_s = 1000;
constexpr std::array<Unit, 6> duration_units{{
    {"ms", 1},
    {"s", ms_per_s},
    {"m", 60 * ms_per_s},
    {"min", 60 * ms_per_s},
    {"h", 3600 * ms_per_s},
    {"d", 86400 * ms_per_s},
}};

constexpr std::array<Unit, 4> size_units{{
    {"B", 1},
    {"KiB", 1024LL},
    {"MiB", 1024LL * 1024},
    {"GiB", 1024LL * 1024 * 1024},
}};

// Splits "250ms" into 250 and "ms"; nullopt when there are no leading digits.
struct NumberAndUnit {
    long long number;
    std::string_view unit;
};

std::optional<NumberAndUnit> split_number(std::string_view text) {
    long long number = 0;
    const auto* begin = text.data();
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, number);
    if (ec != std::errc{} || ptr == begin || text.front() == '-' || text.front() == '+') {
        return std::nullopt;
    }
    return NumberAndUnit{number, std::string_view(ptr, static_cast<std::size_t>(end - ptr))};
}

std::string quoted(std::string_view text) {
    return "'" + std::string(text) + "'";
}

}  // namespace

Parsed<Duration> parse_duration(std::string_view text) {
    if (text.empty()) {
        return {std::nullopt, "expected a duration such as 250ms, 5s, 10m, 2h or 7d, got nothing"};
    }
    const auto split = split_number(text);
    if (!split) {
        return {std::nullopt,
                "expected a duration such as 250ms, 5s, 10m, 2h or 7d, got " + quoted(text)};
    }
    if (split->unit.empty()) {
        return {std::nullopt, "duration needs a unit (ms, s, m, min, h or d), got " + quoted(text)};
    }
    for (const auto& unit : duration_units) {
        if (unit.suffix == split->unit) {
            if (split->number > std::numeric_limits<long long>::max() / unit.factor) {
                return {std::nullopt, "duration " + quoted(text) + " is too large"};
            }
            return {Duration(split->number * unit.factor), {}};
        }
    }
    return {std::nullopt,
            "unknown duration unit in " + quoted(text) + " (expected ms, s, m, min, h or d)"};
}

Parsed<std::size_t> parse_size(std::string_view text) {
    const auto split = split_number(text);
    if (text.empty() || !split) {
        return {std::nullopt, "expected a size such as 512B, 4KiB or 1MiB, got " + quoted(text)};
    }
    if (split->unit.empty()) {
        return {static_cast<std::size_t>(split->number), {}};
    }
    for (const auto& unit : size_units) {
        if (unit.suffix == split->unit) {
            if (split->number > std::numeric_limits<long long>::max() / unit.factor) {
                return {std::nullopt, "size " + quoted(text) + " is too large"};
            }
            return {static_cast<std::size_t>(split->number * unit.factor), {}};
        }
    }
    return {std::nullopt,
            "unknown size unit in " + quoted(text) + " (expected B, KiB, MiB or GiB)"};
}

Parsed<double> parse_fraction(std::string_view text) {
    const bool percent = !text.empty() && text.back() == '%';
    const auto number_text = percent ? text.substr(0, text.size() - 1) : text;
    double value = 0;
    const auto* end = number_text.data() + number_text.size();
    const auto [ptr, ec] = std::from_chars(number_text.data(), end, value);
    if (number_text.empty() || ec != std::errc{} || ptr != end || !std::isfinite(value)) {
        return {std::nullopt, "expected a fraction such as 0.2 or 20%, got " + quoted(text)};
    }
    if (percent) {
        value /= 100.0;
    }
    if (value < 0.0 || value > 1.0) {
        return {std::nullopt, "must be between 0 and 1 (0% and 100%), got " + quoted(text)};
    }
    return {value, {}};
}

Parsed<long long> parse_integer(std::string_view text) {
    long long value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end) {
        return {std::nullopt, "expected an integer, got " + quoted(text)};
    }
    return {value, {}};
}

Parsed<bool> parse_bool(std::string_view text) {
    if (text == "true") {
        return {true, {}};
    }
    if (text == "false") {
        return {false, {}};
    }
    return {std::nullopt, "expected true or false, got " + quoted(text)};
}

Parsed<double> parse_rate(std::string_view text) {
    const auto slash = text.find('/');
    const std::string expected = "expected a rate such as 20/s, 600/min or 3600/h, got ";
    if (slash == std::string_view::npos) {
        return {std::nullopt, expected + quoted(text)};
    }
    const auto number_text = text.substr(0, slash);
    const auto unit = text.substr(slash + 1);
    double count = 0;
    const auto* end = number_text.data() + number_text.size();
    const auto [ptr, ec] = std::from_chars(number_text.data(), end, count);
    if (number_text.empty() || ec != std::errc{} || ptr != end || !std::isfinite(count)) {
        return {std::nullopt, expected + quoted(text)};
    }
    double seconds = 0;
    if (unit == "s") {
        seconds = 1;
    } else if (unit == "min") {
        seconds = 60;
    } else if (unit == "h") {
        seconds = 3600;
    } else {
        return {std::nullopt, "unknown rate unit in " + quoted(text) + " (expected s, min or h)"};
    }
    const double per_second = count / seconds;
    // Below one request an hour a rate is a typo; above a million a second it limits nothing.
    if (per_second < 1.0 / 3600 || per_second > 1e6) {
        return {std::nullopt, "must be between 1/h and 1000000/s, got " + quoted(text)};
    }
    return {per_second, {}};
}

std::string format_duration(Duration d) {
    const long long ms = d.count();
    for (auto it = duration_units.rbegin(); it != duration_units.rend(); ++it) {
        if (it->suffix == "m") {
            continue;  // prefer "min", which cannot be misread as months or metres
        }
        if (ms != 0 && ms % it->factor == 0) {
            return std::to_string(ms / it->factor) + std::string(it->suffix);
        }
    }
    return std::to_string(ms) + "ms";
}

}  // namespace sluice::config
