#include "infra/sql/lexer.hpp"

namespace sluice::sql::detail {
namespace {

// In PostgreSQL identifiers may also contain '$' after the first character, which matters when
// deciding whether "$" or "E" begins a token or continues an identifier.
bool continues_word(std::string_view sql, std::size_t pos) {
    if (pos == 0) {
        return false;
    }
    const char c = sql[pos - 1];
    return is_ident_char(c) || c == '$';
}

// '...' with '' as an escaped quote; with backslash escapes too when escapes is set (E'...').
std::size_t skip_quoted(std::string_view sql, std::size_t pos, char quote, bool escapes) {
    std::size_t i = pos + 1;
    while (i < sql.size()) {
        const char c = sql[i];
        if (escapes && c == '\\') {
            i += 2;
        } else if (c == quote) {
            if (i + 1 < sql.size() && sql[i + 1] == quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            ++i;
        }
    }
    return sql.size();
}

std::size_t skip_line_comment(std::string_view sql, std::size_t pos) {
    const auto end = sql.find('\n', pos);
    return end == std::string_view::npos ? sql.size() : end + 1;
}

std::size_t skip_block_comment(std::string_view sql, std::size_t pos) {
    int depth = 0;
    std::size_t i = pos;
    while (i + 1 < sql.size()) {
        if (sql[i] == '/' && sql[i + 1] == '*') {
            ++depth;
            i += 2;
        } else if (sql[i] == '*' && sql[i + 1] == '/') {
            i += 2;
            if (--depth == 0) {
                return i;
            }
        } else {
            ++i;
        }
    }
    return sql.size();
}

// $tag$ ... $tag$ where tag is empty or an identifier; "$1" (a positional parameter) is not one.
std::size_t skip_dollar_quoted(std::string_view sql, std::size_t pos) {
    std::size_t i = pos + 1;
    if (i < sql.size() && is_ident_start(sql[i])) {
        while (i < sql.size() && is_ident_char(sql[i])) {
            ++i;
        }
    }
    if (i >= sql.size() || sql[i] != '$') {
        return pos;
    }
    const std::string_view delimiter = sql.substr(pos, i + 1 - pos);
    const auto close = sql.find(delimiter, i + 1);
    return close == std::string_view::npos ? sql.size() : close + delimiter.size();
}

}  // namespace

bool starts_comment(std::string_view sql, std::size_t pos) {
    if (pos + 1 >= sql.size()) {
        return false;
    }
    return (sql[pos] == '-' && sql[pos + 1] == '-') || (sql[pos] == '/' && sql[pos + 1] == '*');
}

std::size_t skip_non_code(std::string_view sql, std::size_t pos) {
    if (pos >= sql.size()) {
        return pos;
    }
    switch (sql[pos]) {
        case '\'':
            return skip_quoted(sql, pos, '\'', false);
        case '"':
            return skip_quoted(sql, pos, '"', false);
        case '-':
            return starts_comment(sql, pos) ? skip_line_comment(sql, pos) : pos;
        case '/':
            return starts_comment(sql, pos) ? skip_block_comment(sql, pos) : pos;
        case '$':
            return continues_word(sql, pos) ? pos : skip_dollar_quoted(sql, pos);
        case 'E':
        case 'e':
            if (pos + 1 < sql.size() && sql[pos + 1] == '\'' && !continues_word(sql, pos)) {
                return skip_quoted(sql, pos + 1, '\'', true);
            }
            return pos;
        default:
            return pos;
    }
}

}  // namespace sluice::sql::detail
