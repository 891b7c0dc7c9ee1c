// JSON text for people and for parsers alike: Boost.JSON's serialize() writes every double in
// exponent form (0 as `0E0`, 6.5 as `6.5E0`); json_text() writes the same document with doubles
// as plain decimals (`0.0`, `6.5`) and integers as integers. Used for /status and
// the commands' --json output. Error policy: none (NaN and infinities, not JSON, become null).
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>

namespace sluice::daemon {

// `value` serialised; a double always with a decimal point and never an exponent.
[[nodiscard]] std::string json_text(const boost::json::value& value);

// One double as json_text() writes it: "0.0", "6.5", "0.000125", "null" for NaN/inf.
[[nodiscard]] std::string plain_decimal(double value);

// The value of an optional, or null.
template <class T>
[[nodiscard]] boost::json::value or_null(const std::optional<T>& v) {
    return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

}  // namespace sluice::daemon
