// A short, stable name for a piece of SQL text: generated functions are named by the hash of
// their text, so the same text gets the same name across builds, hosts and instances, and a
// different text another one. Not cryptographic. Pure; never throws.
#pragma once

#include <string>
#include <string_view>

namespace sluice::sql {

// 16 lower-case hex digits (FNV-1a, 64 bits).
[[nodiscard]] std::string text_hash(std::string_view text);

}  // namespace sluice::sql
