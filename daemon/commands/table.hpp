// Aligned text tables for human output: columns padded to their widest cell, two spaces apart.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace sluice::daemon {

using TableRows = std::vector<std::vector<std::string>>;  // the first row is the header

void print_table(std::ostream& out, const TableRows& rows);
// Cuts `text` to at most `max` characters, ending in "..." when it was longer; "-" when empty.
[[nodiscard]] std::string clip(const std::string& text, std::size_t max);

}  // namespace sluice::daemon
