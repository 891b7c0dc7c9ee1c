#include "daemon/commands/table.hpp"

#include <algorithm>

namespace sluice::daemon {

void print_table(std::ostream& out, const TableRows& rows) {
    if (rows.empty())
        return;
    std::vector<std::size_t> width(rows.front().size(), 0);
    for (const auto& row : rows) {
        for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
            width[c] = std::max(width[c], row[c].size());
        }
    }
    for (const auto& row : rows) {
        for (std::size_t c = 0; c < row.size(); ++c) {
            out << row[c];
            if (c + 1 < row.size())
                out << std::string(width[c] - row[c].size() + 2, ' ');
        }
        out << "\n";
    }
}

std::string clip(const std::string& text, std::size_t max) {
    if (text.empty())
        return "-";
    if (text.size() <= max)
        return text;
    return text.substr(0, max - 3) + "...";
}

}  // namespace sluice::daemon
