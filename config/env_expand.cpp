#include "config/env_expand.hpp"

namespace sluice::config {
namespace {

bool valid_variable_name(std::string_view name) {
    if (name.empty() || (name.front() >= '0' && name.front() <= '9')) {
        return false;
    }
    for (const char c : name) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace

Expansion expand_env(std::string_view input, const Environment& env) {
    Expansion out;
    out.text.reserve(input.size());
    out.origin.reserve(input.size());
    auto append = [&](std::string_view s, std::size_t from) {
        out.text.append(s);
        out.origin.insert(out.origin.end(), s.size(), from);
    };
    std::size_t i = 0;
    while (i < input.size()) {
        if (input.compare(i, 2, "${") != 0) {
            out.text.push_back(input[i]);
            out.origin.push_back(i);
            ++i;
            continue;
        }
        const auto close = input.find('}', i + 2);
        if (close == std::string_view::npos) {
            out.problems.push_back({i, "unterminated '${' (expected '}')"});
            return out;
        }
        const auto body = input.substr(i + 2, close - i - 2);
        const auto sep = body.find(":-");
        const auto name = body.substr(0, sep);
        if (!valid_variable_name(name)) {
            out.problems.push_back({i, "invalid environment variable name '" + std::string(name) +
                                           "' (expected ${NAME} or ${NAME:-default})"});
        } else if (const auto it = env.find(std::string(name));
                   it != env.end() && !(it->second.empty() && sep != std::string_view::npos)) {
            append(it->second, i);
        } else if (sep != std::string_view::npos) {
            // The default is literal text of the file, so its bytes map to their own offsets.
            const auto default_offset = i + 2 + sep + 2;
            for (std::size_t k = 0; k < body.size() - sep - 2; ++k) {
                out.text.push_back(input[default_offset + k]);
                out.origin.push_back(default_offset + k);
            }
        } else {
            out.problems.push_back({i, "environment variable '" + std::string(name) +
                                           "' is not set (write ${" + std::string(name) +
                                           ":-default} to give a default)"});
        }
        i = close + 1;
    }
    return out;
}

Masked mask_expansions(std::string_view text) {
    Masked out{std::string(text), {}};
    std::size_t pos = 0;
    while ((pos = out.text.find("${", pos)) != std::string::npos) {
        const auto end = out.text.find_first_of("}\n", pos + 2);
        if (end == std::string::npos || out.text[end] != '}') {
            pos += 2;  // unterminated: left for expand_env to report
            continue;
        }
        const std::size_t length = end + 1 - pos;
        std::string index = std::to_string(out.tokens.size());
        if (index.size() + 2 > length) {
            pos = end + 1;  // too short to mask uniquely (more tokens than fit in ${X})
            continue;
        }
        std::string token;
        token.reserve(length);
        token.push_back('$');
        token.append(length - 2 - index.size(), '~');
        token.append(index);
        token.push_back('~');
        out.tokens.emplace_back(token, out.text.substr(pos, length));
        out.text.replace(pos, length, token);
        pos = end + 1;
    }
    return out;
}

std::string unmask(std::string_view scalar, const Masked& masked) {
    std::string out(scalar);
    if (out.find("$") == std::string::npos)
        return out;
    for (const auto& [token, original] : masked.tokens) {
        for (auto at = out.find(token); at != std::string::npos; at = out.find(token, at + 1)) {
            out.replace(at, token.size(), original);
        }
    }
    return out;
}

}  // namespace sluice::config
