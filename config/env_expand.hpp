// ${VAR} and ${VAR:-default} expansion of scalar values. Only "${" starts an expansion, so "$$"
// and "$1" (SQL dollar quotes and positional parameters) pass through untouched. The default runs
// to the first '}' and is taken literally (no nesting); it applies when VAR is unset or empty.
// Error policy: never throws; problems are returned with the offset of their "${", and never
// include a variable's value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace sluice::config {

struct Expansion {
    struct Problem {
        std::size_t offset;  // of the "${" in the input
        std::string message;
    };

    std::string text;
    std::vector<std::size_t> origin;  // per byte of text: the input offset it came from
    std::vector<Problem> problems;
};

[[nodiscard]] Expansion expand_env(std::string_view input, const Environment& env);

// In a YAML flow collection ([a, b] or {k: v}) '{' and '}' are syntax, so a value such as
// [${SECRET}] does not parse. Before parsing, every ${...} is replaced by a token of the same
// length made of characters YAML takes as plain text; scalars are unmasked before expansion.
// Equal lengths keep every line:column the same.
struct Masked {
    std::string text;
    std::vector<std::pair<std::string, std::string>> tokens;  // token -> original ${...}
};
[[nodiscard]] Masked mask_expansions(std::string_view text);
[[nodiscard]] std::string unmask(std::string_view scalar, const Masked& masked);

}  // namespace sluice::config
