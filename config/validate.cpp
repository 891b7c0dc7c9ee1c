#include "config/validate.hpp"

#include <boost/url/parse.hpp>
#include <charconv>
#include <cstdint>

#include "infra/http/listen_address.hpp"

namespace sluice::config {
namespace {

bool is_lower_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || c == '_';
}
bool is_lower_ident_char(char c) {
    return is_lower_ident_start(c) || (c >= '0' && c <= '9');
}

bool is_lower_identifier(std::string_view s) {
    if (s.empty() || !is_lower_ident_start(s.front())) {
        return false;
    }
    for (const char c : s) {
        if (!is_lower_ident_char(c)) {
            return false;
        }
    }
    return true;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

// Standard alphabet, padded to whole 4-character groups (as the outbox's decoder requires).
bool is_base64(std::string_view s) {
    std::size_t data = s.size();
    while (data > 0 && s[data - 1] == '=') {
        --data;
    }
    const std::size_t padding = s.size() - data;
    if (data == 0 || padding > 2 || s.size() % 4 != 0) {
        return false;
    }
    for (std::size_t i = 0; i < data; ++i) {
        if (!is_base64_char(s[i])) {
            return false;
        }
    }
    return true;
}

bool is_token_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

std::string check_name(std::string_view name) {
    if (name.empty()) {
        return "must not be empty";
    }
    if (!is_lower_identifier(name)) {
        return "'" + std::string(name) +
               "' is not a valid name (use lower-case letters, digits and '_', not starting with "
               "a digit)";
    }
    if (name.size() > max_name_length) {
        return "'" + std::string(name) + "' is longer than " + std::to_string(max_name_length) +
               " characters";
    }
    return {};
}

std::string check_identifier(std::string_view name, bool qualified_ok) {
    const auto dot = name.find('.');
    const bool ok = dot == std::string_view::npos
                        ? is_lower_identifier(name)
                        : qualified_ok && is_lower_identifier(name.substr(0, dot)) &&
                              is_lower_identifier(name.substr(dot + 1));
    const bool short_enough = name.substr(0, dot).size() <= 63 &&
                              (dot == std::string_view::npos || name.size() - dot - 1 <= 63);
    if (!ok || !short_enough) {
        return "'" + std::string(name) + "' is not a valid " +
               (qualified_ok ? "table name (expected name or schema.name"
                             : "identifier (expected a name") +
               " of lower-case letters, digits and '_', at most 63 characters each)";
    }
    return {};
}

std::string check_schema(std::string_view schema) {
    if (!is_lower_identifier(schema)) {
        return "'" + std::string(schema) +
               "' is not a plain schema name (use lower-case letters, digits and '_', not "
               "starting with a digit)";
    }
    if (schema.size() > max_schema_length) {
        return "'" + std::string(schema) + "' is longer than " + std::to_string(max_schema_length) +
               " characters (its rebuild generations add '__previous')";
    }
    if (schema == "sluice" || schema == "public" || schema == "information_schema" ||
        schema.starts_with("pg_")) {
        return "'" + std::string(schema) +
               "' is not the projection's to own (sluice, public, information_schema and pg_* "
               "are taken); name a schema of its own";
    }
    if (schema.ends_with("__next") || schema.ends_with("__previous") ||
        schema.ends_with("__swap")) {
        return "'" + std::string(schema) +
               "' ends like a rebuild generation's schema (__next, __previous, __swap); choose "
               "another name";
    }
    return {};
}

std::string check_webhook_url(std::string_view url) {
    const auto parsed = boost::urls::parse_uri(url);
    if (!parsed) {
        return "not a valid URL";
    }
    const auto scheme = parsed->scheme();
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
        return "scheme must be http or https, got '" + std::string(scheme) + "'";
    }
    if (!parsed->has_authority() || parsed->host().empty()) {
        return "URL has no host";
    }
    return {};
}

std::string check_secret(std::string_view secret) {
    constexpr std::string_view prefix = "whsec_";
    if (secret.substr(0, prefix.size()) != prefix) {
        return "secret must start with 'whsec_'";
    }
    if (!is_base64(secret.substr(prefix.size()))) {
        return "secret after 'whsec_' is not valid base64 (standard alphabet, padded with '=')";
    }
    return {};
}

std::string check_listen(std::string_view listen) {
    std::string_view host;
    std::string_view port;
    const bool bracketed = !listen.empty() && listen.front() == '[';
    if (bracketed) {
        const auto close = listen.find(']');
        if (close == std::string_view::npos || close + 1 >= listen.size() ||
            listen[close + 1] != ':') {
            return "expected host:port or [address]:port, got '" + std::string(listen) + "'";
        }
        host = listen.substr(1, close - 1);
        port = listen.substr(close + 2);
    } else {
        const auto colon = listen.rfind(':');
        if (colon == std::string_view::npos) {
            return "expected host:port, got '" + std::string(listen) + "'";
        }
        host = listen.substr(0, colon);
        port = listen.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            return "an IPv6 address must be written in brackets, as [::1]:9464";
        }
    }
    if (host.empty()) {
        return "host is missing in '" + std::string(listen) + "' (use 0.0.0.0:port for all)";
    }
    std::uint32_t number = 0;
    const auto* end = port.data() + port.size();
    const auto [ptr, ec] = std::from_chars(port.data(), end, number);
    if (port.empty() || ec != std::errc{} || ptr != end || number > 65535) {
        return "port must be a number between 0 and 65535 in '" + std::string(listen) + "'";
    }
    // The daemon binds what http::parse_listen_address accepts; a host name would pass here and
    // then stop `sluice run`.
    if (!http::parse_listen_address(listen)) {
        if (bracketed) {
            return "'[" + std::string(host) +
                   "]' is not an IPv6 address (write an IPv4 address without brackets)";
        }
        return "host '" + std::string(host) +
               "' is not an IP address or localhost (host names are not resolved here; use "
               "127.0.0.1 for this machine only, 0.0.0.0 for every interface)";
    }
    return {};
}

std::string check_header(std::string_view name, std::string_view value) {
    if (name.empty()) {
        return "header name must not be empty";
    }
    for (const char c : name) {
        if (!is_token_char(c)) {
            return "'" + std::string(name) + "' is not a valid header name";
        }
    }
    for (const std::string_view reserved :
         {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length",
          "host", "transfer-encoding", "connection"}) {
        if (iequals(name, reserved)) {
            return "header '" + std::string(name) + "' is set by sluice and cannot be configured";
        }
    }
    if (value.find_first_of("\r\n") != std::string_view::npos || value.find('\0') != value.npos) {
        return "value of header '" + std::string(name) + "' must not contain line breaks";
    }
    return {};
}

}  // namespace sluice::config
