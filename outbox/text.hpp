// Text that is safe to store in a PostgreSQL text column: valid UTF-8 without NUL bytes, cut to
// a byte budget on a character boundary. Pure; never throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::outbox {

// The longest prefix of `bytes` that fits in max_bytes after replacing every invalid UTF-8
// sequence and every NUL byte with U+FFFD.
[[nodiscard]] std::string storable_text(std::string_view bytes, std::size_t max_bytes);

}  // namespace sluice::outbox
