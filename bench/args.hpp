// The bench tools' command lines: `--flag value` pairs, and whole numbers in a range. A problem
// goes to the tool's usage function, which prints it with the usage and exits 2.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>

namespace sluice::bench {

// Calls take(flag, value) for each `--flag value` pair; take returns false for a flag it does
// not know. `--help` / `-h` prints `help` and exits 0.
template <class Take, class Usage>
void parse_pairs(int argc, char** argv, const std::string& help, Take&& take, Usage&& usage) {
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            std::cout << help;
            std::exit(0);
        }
        if (i + 1 >= argc)
            usage(flag + " needs a value");
        std::string value = argv[++i];
        if (!take(flag, value))
            usage("unknown option " + flag);
    }
}

// `text` as an integer in [1, max]; otherwise calls `usage` with a message that names `flag`.
template <class Usage>
long positive_arg(const std::string& flag, const std::string& text, long max, Usage&& usage) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(text.c_str(), &end, 10);
    if (end == text.c_str() || *end != '\0' || errno != 0 || v < 1 || v > max) {
        usage(flag + " must be an integer between 1 and " + std::to_string(max) + ", got '" + text +
              "'");
    }
    return v;
}

}  // namespace sluice::bench
