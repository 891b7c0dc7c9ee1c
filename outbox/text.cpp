#include "outbox/text.hpp"

namespace sluice::outbox {
namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence starting at s[0], or 0 when it is invalid or truncated.
std::size_t sequence_length(std::string_view s) {
    auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
    unsigned char c = b(0);
    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(1) || !cont(2))
            return 0;
        if (c == 0xE0 && b(1) < 0xA0)
            return 0;  // overlong
        if (c == 0xED && b(1) >= 0xA0)
            return 0;  // surrogates
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3))
            return 0;
        if (c == 0xF0 && b(1) < 0x90)
            return 0;  // overlong
        if (c == 0xF4 && b(1) >= 0x90)
            return 0;  // beyond U+10FFFF
        return 4;
    }
    return 0;
}

}  // namespace

std::string storable_text(std::string_view bytes, std::size_t max_bytes) {
    std::string out;
    out.reserve(std::min(bytes.size(), max_bytes));
    while (!bytes.empty()) {
        std::size_t n = sequence_length(bytes);
        std::string_view piece = n ? bytes.substr(0, n) : replacement;
        if (out.size() + piece.size() > max_bytes)
            break;
        out.append(piece);
        bytes.remove_prefix(n ? n : 1);
    }
    return out;
}

}  // namespace sluice::outbox
