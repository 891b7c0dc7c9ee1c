// The bench tools' numeric arguments: a whole number in [1, max], or the tool's usage error.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <string>

namespace sluice::bench {

// `text` as an integer in [1, max]; otherwise calls `usage` (which exits) with a message that
// names `flag`.
template <class Usage>
long positive_arg(const std::string& flag, const std::string& text, long max, Usage&& usage) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(text.c_str(), &end, 10);
    if (end == text.c_str() || *end != '\0' || errno != 0 || v < 1 || v > max) {
        usage(flag + " must be an integer between 1 and " + std::to_string(max) + ", got '" +
              text + "'");
    }
    return v;
}

}  // namespace sluice::bench
