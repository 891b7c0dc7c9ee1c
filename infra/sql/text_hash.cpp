#include "infra/sql/text_hash.hpp"

#include <cstdint>
#include <cstdio>

namespace sluice::sql {

std::string text_hash(std::string_view text) {
    std::uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
}

}  // namespace sluice::sql
