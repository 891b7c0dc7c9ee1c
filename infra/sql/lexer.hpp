// Internal to sluice_sql: recognises the parts of SQL text that are not code (literals, quoted
// identifiers, comments, dollar-quoted bodies) so that scanners only look at code.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice::sql::detail {

[[nodiscard]] constexpr bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

[[nodiscard]] constexpr bool is_ident_char(char c) {
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

// If a literal, quoted identifier, comment or dollar-quoted body starts at pos, the index just
// past its end (sql.size() when unterminated); otherwise pos itself.
[[nodiscard]] std::size_t skip_non_code(std::string_view sql, std::size_t pos);

// True when sql[pos] starts a comment ("--" or "/*").
[[nodiscard]] bool starts_comment(std::string_view sql, std::size_t pos);

}  // namespace sluice::sql::detail
