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

}  // namespace sluice::config
