// The raw text of a configuration file, used to place messages inside scalar values: given the
// start mark yaml-cpp reports for a scalar and the scalar's parsed value, it finds the file line
// and column of any byte of that value. Handles plain (also multi-line), single- and
// double-quoted scalars and literal (|) and folded (>) blocks, with anchors and tags before them.
// Error policy: never throws; when the value cannot be matched against the text (an exotic
// escape, say) it answers with the scalar's start rather than a wrong place.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace sluice::config {

struct TextPosition {
    int line = 0;    // 1-based
    int column = 0;  // 1-based
};

class SourceText {
  public:
    explicit SourceText(std::string_view text);

    // mark_line and mark_column are yaml-cpp's 0-based Mark of the scalar node.
    [[nodiscard]] TextPosition locate(int mark_line, int mark_column, std::string_view value,
                                      std::size_t offset) const;

  private:
    [[nodiscard]] std::size_t offset_of(int line, int column) const;
    [[nodiscard]] TextPosition position_of(std::size_t offset) const;

    std::string_view text_;
    std::vector<std::size_t> line_starts_;
};

}  // namespace sluice::config
