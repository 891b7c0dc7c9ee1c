// A webhook URL taken apart for the HTTP client: where to connect, what to send as Host and
// request target, and how to name it in logs without credentials.
// Error policy: parse_endpoint throws std::invalid_argument for URLs the client cannot use;
// the message names the problem but never repeats the URL (it may carry credentials).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::outbox {

struct Endpoint {
    bool https = false;
    std::string host;                          // DNS name or IP literal, without IPv6 brackets
    bool host_is_ip = false;                   // true for IP literals (no SNI; IP SAN verification)
    std::string port;                          // always set, "80"/"443" by default
    std::string target;                        // path and query, "/" at least; never the fragment
    std::string host_header;                   // host[:port] as the Host header wants it
    std::optional<std::string> authorization;  // "Basic ..." from user:password@ in the URL
};

[[nodiscard]] Endpoint parse_endpoint(std::string_view url);

// "https://example.com:443/hooks" — no user info, no query (tokens often live there).
[[nodiscard]] std::string display_url(const Endpoint& endpoint);

}  // namespace sluice::outbox
