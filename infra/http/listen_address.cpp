#include "infra/http/listen_address.hpp"

#include <charconv>
#include <string>

namespace sluice::http {

std::optional<boost::asio::ip::tcp::endpoint> parse_listen_address(std::string_view text) {
    namespace ip = boost::asio::ip;
    std::string_view host;
    std::string_view port_text;
    bool bracketed = false;
    if (text.starts_with('[')) {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
        bracketed = true;
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return std::nullopt;
        }
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            return std::nullopt;  // an unbracketed IPv6 literal is ambiguous
        }
    }
    unsigned port = 0;
    const auto parsed =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || parsed.ec != std::errc{} ||
        parsed.ptr != port_text.data() + port_text.size() || port > 65535) {
        return std::nullopt;
    }
    if (!bracketed && host == "localhost") {
        return ip::tcp::endpoint(ip::address_v4::loopback(), static_cast<unsigned short>(port));
    }
    boost::system::error_code ec;
    const ip::address address = ip::make_address(std::string(host), ec);
    if (ec || host.empty() || address.is_v6() != bracketed) {
        return std::nullopt;
    }
    return ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace sluice::http
