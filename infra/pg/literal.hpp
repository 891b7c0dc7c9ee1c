// SQL text that sluice writes itself: identifiers and string literals spliced into DDL and
// generated functions (names from the config, handler event types), and array literals bound as
// ONE parameter ($1::text[], $1::bigint[]). Values that come from events or users are bound
// (pg::Params), never spliced; these builders are for text the config or the code controls.
// Error policy: quote_qualified throws std::invalid_argument for a name that is not one or two
// plain identifiers; everything else is pure and never throws.
#pragma once

#include <concepts>
#include <functional>
#include <string>
#include <string_view>

namespace sluice::pg {

// "name" with embedded double quotes doubled: any text becomes one identifier.
[[nodiscard]] std::string quote_identifier(std::string_view name);

// An optionally schema-qualified name as identifiers: app.events -> "app"."events". Each part
// must be a plain identifier (letters, digits, '_', not starting with a digit, at most 63
// characters); otherwise throws std::invalid_argument("'NAME' is not a valid table name").
[[nodiscard]] std::string quote_qualified(std::string_view name);

// 'text' with embedded single quotes doubled (standard_conforming_strings: backslashes are
// ordinary characters).
[[nodiscard]] std::string quote_literal(std::string_view text);

// `expression` (a timestamptz) as ISO 8601 UTC text with microseconds, 2024-05-01T12:00:00.000000Z:
// the one format every command prints times in. NULL stays NULL.
[[nodiscard]] std::string iso_utc(std::string_view expression);

// An array literal of `items` (each through `proj`) with every element double-quoted and
// escaped: {"a","b \"c\""}. Bind it as a text[] (or uuid[], ...) parameter.
template <class Range, class Proj = std::identity>
[[nodiscard]] std::string text_array(const Range& items, Proj proj = {}) {
    std::string out = "{";
    for (const auto& item : items) {
        if (out.size() > 1)
            out += ',';
        out += '"';
        for (char c : std::string_view(std::invoke(proj, item))) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

// An array literal of integers (each through `proj`): {1,2,3}. Bind it as a bigint[] parameter.
template <class Range, class Proj = std::identity>
[[nodiscard]] std::string int_array(const Range& items, Proj proj = {}) {
    std::string out = "{";
    for (const auto& item : items) {
        if (out.size() > 1)
            out += ',';
        out += std::to_string(std::invoke(proj, item));
    }
    return out + "}";
}

}  // namespace sluice::pg
