#include "config/source_text.hpp"

#include <algorithm>

namespace sluice::config {
namespace {

enum class Style { plain, single_quoted, double_quoted, block };

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Bytes a double-quoted escape adds to the value, and the bytes it spans in the text.
struct Escape {
    std::size_t produced;
    std::size_t consumed;
};

std::size_t utf8_length(unsigned long code_point) {
    if (code_point < 0x80) {
        return 1;
    }
    if (code_point < 0x800) {
        return 2;
    }
    return code_point < 0x10000 ? 3 : 4;
}

Escape decode_escape(std::string_view text, std::size_t pos) {
    if (pos + 1 >= text.size()) {
        return {0, 1};
    }
    std::size_t hex_digits = 0;
    switch (text[pos + 1]) {
        case 'x':
            hex_digits = 2;
            break;
        case 'u':
            hex_digits = 4;
            break;
        case 'U':
            hex_digits = 8;
            break;
        case 'N':  // next line U+0085, non-breaking space U+00A0
        case '_':
            return {2, 2};
        case 'L':  // line and paragraph separators U+2028/U+2029
        case 'P':
            return {3, 2};
        default:
            return {1, 2};
    }
    const auto digits = text.substr(pos + 2, hex_digits);
    unsigned long code_point = 0;
    for (const char c : digits) {
        code_point *= 16;
        if (c >= '0' && c <= '9') {
            code_point += static_cast<unsigned long>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            code_point += static_cast<unsigned long>(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            code_point += static_cast<unsigned long>(c - 'A' + 10);
        }
    }
    return {utf8_length(code_point), 2 + digits.size()};
}

// Skips anchors (&a) and tags (!t) that yaml-cpp's mark points at, then tells the style.
std::size_t skip_properties(std::string_view text, std::size_t pos) {
    while (pos < text.size() && (text[pos] == '&' || text[pos] == '!')) {
        while (pos < text.size() && !is_blank(text[pos])) {
            ++pos;
        }
        while (pos < text.size() && is_blank(text[pos])) {
            ++pos;
        }
    }
    return pos;
}

Style style_at(std::string_view text, std::size_t pos) {
    if (pos >= text.size()) {
        return Style::plain;
    }
    switch (text[pos]) {
        case '\'':
            return Style::single_quoted;
        case '"':
            return Style::double_quoted;
        case '|':
        case '>':
            return Style::block;
        default:
            return Style::plain;
    }
}

// True when only spaces and tabs precede pos on its line.
bool at_indentation(std::string_view text, std::size_t pos) {
    while (pos > 0 && (text[pos - 1] == ' ' || text[pos - 1] == '\t')) {
        --pos;
    }
    return pos == 0 || text[pos - 1] == '\n';
}

}  // namespace

SourceText::SourceText(std::string_view text) : text_(text) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n') {
            line_starts_.push_back(i + 1);
        }
    }
}

std::size_t SourceText::offset_of(int line, int column) const {
    if (line < 0 || static_cast<std::size_t>(line) >= line_starts_.size() || column < 0) {
        return text_.size();
    }
    return std::min(text_.size(), line_starts_[static_cast<std::size_t>(line)] +
                                      static_cast<std::size_t>(column));
}

TextPosition SourceText::position_of(std::size_t offset) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const auto line = static_cast<std::size_t>(it - line_starts_.begin()) - 1;
    return {static_cast<int>(line) + 1, static_cast<int>(offset - line_starts_[line]) + 1};
}

// Walks the value and the text side by side. Runs of whitespace are matched as a whole (line
// folding and block indentation turn one into the other); every other byte must match exactly,
// except for quoting escapes, which are decoded.
TextPosition SourceText::locate(int mark_line, int mark_column, std::string_view value,
                                std::size_t offset) const {
    const TextPosition fallback{mark_line + 1, mark_column + 1};
    std::size_t r = skip_properties(text_, offset_of(mark_line, mark_column));
    const Style style = style_at(text_, r);
    if (style == Style::block) {
        const auto eol = text_.find('\n', r);
        if (eol == std::string_view::npos) {
            return fallback;
        }
        r = eol + 1;
    } else if (style != Style::plain) {
        ++r;
    }
    std::size_t v = 0;
    while (v < value.size() && r < text_.size()) {
        const char t = text_[r];
        if (style == Style::double_quoted && t == '\\') {
            if (r + 1 < text_.size() && (text_[r + 1] == '\n' || text_[r + 1] == '\r')) {
                r += 2;  // an escaped line break adds nothing to the value
                while (r < text_.size() && is_blank(text_[r])) {
                    ++r;
                }
                continue;
            }
            const auto escape = decode_escape(text_, r);
            if (offset < v + escape.produced) {
                return position_of(r);
            }
            v += escape.produced;
            r += escape.consumed;
            continue;
        }
        if (style == Style::single_quoted && t == '\'' && r + 1 < text_.size() &&
            text_[r + 1] == '\'') {
            if (v == offset) {
                return position_of(r);
            }
            ++v;
            r += 2;
            continue;
        }
        if (is_blank(value[v]) && is_blank(t)) {
            const std::size_t run_start = r;
            while (v < value.size() && is_blank(value[v])) {
                if (v == offset) {
                    return position_of(run_start);
                }
                ++v;
            }
            while (r < text_.size() && is_blank(text_[r])) {
                ++r;
            }
            continue;
        }
        if (is_blank(t) && at_indentation(text_, r)) {
            while (r < text_.size() && is_blank(text_[r])) {
                ++r;  // indentation of a block line or a folded continuation line
            }
            continue;
        }
        if (value[v] != t) {
            return fallback;
        }
        if (v == offset) {
            return position_of(r);
        }
        ++v;
        ++r;
    }
    return fallback;
}

}  // namespace sluice::config
