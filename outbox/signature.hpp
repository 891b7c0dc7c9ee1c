// Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
// "{msg_id}.{timestamp}.{body}" keyed with the base64-decoded part of a "whsec_..." secret,
// sent as "v1,<base64>" (one entry per secret, space separated, so secrets can be rotated).
// Error policy: a malformed secret is a configuration error and throws std::invalid_argument
// (the message never contains the secret). verify() never throws: bad input is "not valid".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::outbox {

// The key bytes of a "whsec_<base64>" secret (the prefix is optional, as in the spec's
// libraries). Throws std::invalid_argument when the base64 part is malformed or empty.
[[nodiscard]] std::string decode_secret(std::string_view secret);

// The webhook-signature header value: "v1,<b64>" per secret, joined by single spaces.
[[nodiscard]] std::string sign(std::string_view msg_id, std::int64_t timestamp,
                               std::string_view body, const std::vector<std::string>& secrets);

// True when any "v1,<b64>" entry of signature_header matches the HMAC under any of secrets
// (constant-time comparison). Does not check the timestamp's age; callers apply a tolerance.
[[nodiscard]] bool verify(std::string_view msg_id, std::int64_t timestamp, std::string_view body,
                          std::string_view signature_header,
                          const std::vector<std::string>& secrets);

// Base64 (standard alphabet, padded). decode returns false for malformed input.
[[nodiscard]] std::string base64_encode(std::string_view bytes);
[[nodiscard]] bool base64_decode(std::string_view text, std::string& out);

}  // namespace sluice::outbox
