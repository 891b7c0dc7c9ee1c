#include "infra/pg/result.hpp"

#include <charconv>
#include <stdexcept>

namespace sluice::pg {

std::optional<std::string> Result::optional_text(int row, int col) const {
    if (is_null(row, col))
        return std::nullopt;
    return std::string(text(row, col));
}

std::int64_t Result::int64(int row, int col) const {
    auto v = text(row, col);
    std::int64_t out = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || ptr != v.data() + v.size()) {
        throw std::runtime_error("expected an integer in column " + std::to_string(col) +
                                 ", got '" + std::string(v) + "'");
    }
    return out;
}

}  // namespace sluice::pg
