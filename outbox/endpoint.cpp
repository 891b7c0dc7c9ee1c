#include "outbox/endpoint.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <stdexcept>

#include "outbox/signature.hpp"

namespace sluice::outbox {

Endpoint parse_endpoint(std::string_view url) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed)
        throw std::invalid_argument("webhook url is not an absolute URL");
    const boost::urls::url_view& u = *parsed;
    Endpoint e;
    if (u.scheme_id() == boost::urls::scheme::https) {
        e.https = true;
    } else if (u.scheme_id() != boost::urls::scheme::http) {
        throw std::invalid_argument("webhook url scheme must be http or https");
    }
    if (!u.has_authority() || u.encoded_host().empty()) {
        throw std::invalid_argument("webhook url has no host");
    }
    switch (u.host_type()) {
        case boost::urls::host_type::ipv4:
            e.host = u.host_ipv4_address().to_string();
            e.host_is_ip = true;
            break;
        case boost::urls::host_type::ipv6:
            e.host = u.host_ipv6_address().to_string();
            e.host_is_ip = true;
            break;
        case boost::urls::host_type::name:
            e.host = u.host_name();
            break;
        default:
            throw std::invalid_argument("webhook url host is not a name or an IP address");
    }
    e.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : (e.https ? "443" : "80");
    bool default_port = e.port == (e.https ? "443" : "80");
    e.host_header = std::string(u.encoded_host_and_port());
    if (default_port || !u.has_port())
        e.host_header = std::string(u.encoded_host());
    e.target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
    if (u.has_query())
        e.target += "?" + std::string(u.encoded_query());
    if (u.has_userinfo()) {
        std::string credentials = u.user() + ":" + (u.has_password() ? u.password() : "");
        e.authorization = "Basic " + base64_encode(credentials);
    }
    return e;
}

std::string display_url(const Endpoint& endpoint) {
    std::string host =
        endpoint.host.find(':') != std::string::npos ? "[" + endpoint.host + "]" : endpoint.host;
    auto path = endpoint.target.substr(0, endpoint.target.find('?'));
    return (endpoint.https ? "https://" : "http://") + host + ":" + endpoint.port + path;
}

}  // namespace sluice::outbox
