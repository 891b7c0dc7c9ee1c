#include "infra/pg/literal.hpp"

#include <stdexcept>

namespace sluice::pg {
namespace {

bool is_plain_identifier(std::string_view part) {
    if (part.empty() || part.size() > 63)
        return false;
    auto letter = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    };
    if (!letter(part.front()))
        return false;
    for (char c : part) {
        if (!letter(c) && !(c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

std::string doubled(std::string_view text, char quote) {
    std::string out(1, quote);
    for (char c : text) {
        if (c == quote)
            out += quote;
        out += c;
    }
    return out + quote;
}

}  // namespace

std::string quote_identifier(std::string_view name) {
    return doubled(name, '"');
}

std::string quote_qualified(std::string_view name) {
    auto dot = name.find('.');
    std::string_view first = name.substr(0, dot);
    std::string_view second =
        dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
    bool ok = is_plain_identifier(first) &&
              (dot == std::string_view::npos || is_plain_identifier(second));
    if (!ok)
        throw std::invalid_argument("'" + std::string(name) + "' is not a valid table name");
    return dot == std::string_view::npos ? quote_identifier(first)
                                         : quote_identifier(first) + '.' + quote_identifier(second);
}

std::string quote_literal(std::string_view text) {
    return doubled(text, '\'');
}

std::string iso_utc(std::string_view expression) {
    return "to_char(" + std::string(expression) +
           R"( AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))";
}

}  // namespace sluice::pg
