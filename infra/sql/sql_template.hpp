// Pure scanning of handler SQL: finds :named parameters, substitutes them and splits scripts into
// statements, all without being fooled by string literals ('...', E'...'), quoted identifiers,
// comments (-- and nested /* */), dollar-quoted bodies ($$...$$, $tag$...$tag$) or '::' casts.
// A ':' followed by an identifier anywhere else is a parameter, so an array slice written with a
// name as its upper bound (a[1:n]) reads as parameter ':n'; write a[1 : n] or a[1:(n)] instead.
// Unterminated literals and comments run to the end of the text, as PostgreSQL would report them.
// Error policy: these functions never throw (beyond std::bad_alloc) and never fail.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::sql {

// One occurrence of :name in SQL text.
struct ParamRef {
    std::string name;    // without the ':'
    std::size_t offset;  // of the ':' in the text
    std::size_t length;  // including the ':'

    friend bool operator==(const ParamRef&, const ParamRef&) = default;
};

// Every :name outside literals, comments, dollar quotes and '::' casts, in text order.
[[nodiscard]] std::vector<ParamRef> scan_params(std::string_view sql);

// The text with every parameter occurrence replaced by replace(ref); everything else unchanged.
[[nodiscard]] std::string substitute_params(
    std::string_view sql, const std::function<std::string(const ParamRef&)>& replace);

// One statement of a script, trimmed of surrounding whitespace; offset is where text begins.
struct Statement {
    std::string_view text;
    std::size_t offset;
};

// Splits at top-level ';'. Statements that hold nothing but whitespace and comments are dropped.
// The views point into sql.
[[nodiscard]] std::vector<Statement> split_statements(std::string_view sql);

// The parameters a handler may use, in the order of the events table's columns:
// id transaction_id aggregate_id aggregate_type version event_type payload metadata timestamp.
[[nodiscard]] const std::vector<std::string>& event_params();
[[nodiscard]] bool is_event_param(std::string_view name);

// PostgreSQL type of an event parameter (e.g. "uuid" for aggregate_id); empty if not one.
[[nodiscard]] std::string_view event_param_type(std::string_view name);

}  // namespace sluice::sql
