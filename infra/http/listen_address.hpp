// Parsing of the HTTP listen address from config ("host:port").
// Accepted: an IPv4 literal ("127.0.0.1:9464"), a bracketed IPv6 literal ("[::1]:9464"), or
// "localhost" (127.0.0.1). Host names are not resolved: resolution would block the I/O thread
// and bind a surprising address. Port 0 binds an ephemeral port (tests).
// Error policy: pure; returns nullopt for anything else.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string_view>

namespace sluice::http {

[[nodiscard]] std::optional<boost::asio::ip::tcp::endpoint> parse_listen_address(
    std::string_view text);

}  // namespace sluice::http
