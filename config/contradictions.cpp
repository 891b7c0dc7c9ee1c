// Configurations that can never do anything or contradict themselves. Each check says what the
// configuration would do and which key to change, in the file's own words.
#include "config/contradictions.hpp"

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <map>
#include <vector>

#include "config/sections.hpp"
#include "config/validate.hpp"
#include "infra/http/listen_address.hpp"

namespace sluice::config {
namespace {

namespace ip = boost::asio::ip;

// An empty list would read as "nothing", but sluice takes a missing filter as "everything":
// either way the list says something the configuration does not mean, and leaving the key out
// already says "every type".
void check_not_empty_list(Reader& r, const YAML::Node& item, std::string_view key,
                          const std::string& scope, std::string_view names,
                          std::string_view without_it) {
    const auto list = Reader::value_of(item, key);
    if (!list.IsSequence() || list.size() != 0) {
        return;
    }
    r.field_error(list, key, scope,
                  "an empty list names no " + std::string(names) +
                      "; name at least one, or leave " + std::string(key) + " out " +
                      std::string(without_it));
}

void check_projection(Reader& r, const YAML::Node& item, const std::string& scope) {
    check_not_empty_list(r, item, "aggregate_types", scope, "aggregate type",
                         "to take events of every aggregate type");
    // A projection applies only the event types it has handlers for.
    const auto handlers = Reader::value_of(item, "handlers");
    if (handlers.IsMap() && handlers.size() == 0) {
        r.field_error(handlers, "handlers", scope,
                      "no event type is handled, so the projection would never apply an event; "
                      "add at least one 'EventType: SQL' (to stop a projection, remove it from "
                      "the file)");
    }
}

// Header names ignore case, so two spellings of one name would send the header twice with
// different values, and the receiver picks one of them.
void check_header_case(Reader& r, const YAML::Node& item, const std::string& scope) {
    const auto headers = Reader::value_of(item, "headers");
    if (!headers.IsMap()) {
        return;
    }
    std::map<std::string, YAML::Node, std::less<>> first;  // by lower-case name
    for (const auto& entry : headers) {
        if (!entry.first.IsScalar()) {
            continue;
        }
        const auto& name = entry.first.Scalar();
        const auto [it, inserted] =
            first.try_emplace(boost::algorithm::to_lower_copy(name), entry.first);
        if (inserted || it->second.Scalar() == name) {
            continue;  // new, or the same spelling twice (reported as a duplicate key)
        }
        r.error(r.at(entry.first),
                "headers of " + scope + ": '" + name + "' is the same header as '" +
                    it->second.Scalar() + "' at line " + std::to_string(r.at(it->second).line) +
                    " (header names ignore case), so the request would carry both values; keep "
                    "one");
    }
}

// sluice's own endpoint answers GET on a few paths only; a delivery there fails every time.
void check_not_own_endpoint(Reader& r, const YAML::Node& root, const YAML::Node& item,
                            const Webhook& webhook, const std::string& scope, const Http& http) {
    if (!http.enabled || webhook.url.empty() || !check_webhook_url(webhook.url).empty() ||
        !reaches_listen_address(webhook.url, http.listen)) {
        return;
    }
    const auto listen = Reader::value_of(Reader::value_of(root, "http"), "listen");
    const std::string where = listen.IsDefined() ? "http.listen " + http.listen + " at line " +
                                                       std::to_string(r.at(listen).line)
                                                 : "the default http.listen " + http.listen;
    r.field_error(Reader::value_of(item, "url"), "url", scope,
                  "reaches sluice's own HTTP endpoint (" + where +
                      "), which takes no webhook deliveries, so every delivery would fail; "
                      "point url at the receiver, or give http.listen another port");
}

void check_webhook(Reader& r, const YAML::Node& root, const YAML::Node& item,
                   const Webhook& webhook, const std::string& scope, const Http* http) {
    check_not_empty_list(r, item, "event_types", scope, "event type",
                         "to deliver every event type");
    check_not_empty_list(r, item, "aggregate_types", scope, "aggregate type",
                         "to deliver events of every aggregate type");
    check_header_case(r, item, scope);
    if (http != nullptr) {
        check_not_own_endpoint(r, root, item, webhook, scope, *http);
    }
}

// Where a client connects for an address written in a URL: an IPv4-mapped IPv6 address is its
// IPv4 address, and the unspecified address (0.0.0.0, ::) connects to the loopback on Linux.
ip::address connect_target(ip::address a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
    }
    if (a.is_unspecified()) {
        return a.is_v4() ? ip::address(ip::address_v4::loopback())
                         : ip::address(ip::address_v6::loopback());
    }
    return a;
}

// The addresses a client would try for the URL's host; empty for a name it would resolve.
std::vector<ip::address> url_targets(const boost::urls::url_view& url) {
    const std::string host = url.host_address();
    if (url.host_type() == boost::urls::host_type::name) {
        if (boost::algorithm::iequals(host, "localhost") ||
            boost::algorithm::iequals(host, "localhost.")) {
            return {ip::address_v4::loopback(), ip::address_v6::loopback()};
        }
        return {};
    }
    boost::system::error_code ec;
    const auto address = ip::make_address(host, ec);
    if (ec) {
        return {};
    }
    return {connect_target(address)};
}

// 0.0.0.0 takes every IPv4 address of the machine; [::] every address (dual-stack, Linux's
// default). Of those, only the loopback ones are known without asking the system.
bool accepts(const ip::address& listen, const ip::address& target) {
    if (listen.is_unspecified()) {
        return target.is_loopback() && (listen.is_v6() || target.is_v4());
    }
    return listen == target;
}

// A schema a projection owns is replaced whole by its rebuilds: two owners would rebuild each
// other's tables away, and the events table must never be inside one.
void check_schemas(Reader& r, const YAML::Node& root, const Config& config) {
    const auto projections = Reader::value_of(root, "projections");
    const auto dot = config.database.events_table.find('.');
    const std::string events_schema =
        dot == std::string::npos ? "" : config.database.events_table.substr(0, dot);
    std::map<std::string, std::size_t, std::less<>> owner;  // schema -> projection index
    for (std::size_t i = 0; i < config.projections.size(); ++i) {
        const auto& p = config.projections[i];
        if (p.schema.empty() || !check_schema(p.schema).empty()) {
            continue;
        }
        const auto node = Reader::value_of(projections[i], "schema");
        const std::string scope = item_scope(projections[i], "projection", "projections", i);
        if (p.schema == events_schema) {
            r.field_error(node, "schema", scope,
                          "'" + p.schema + "' holds the events table (database.events_table " +
                              config.database.events_table +
                              "), and a rebuild replaces the schema whole; name a schema of the "
                              "projection's own");
            continue;
        }
        const auto [it, inserted] = owner.try_emplace(p.schema, i);
        if (!inserted) {
            const auto& first = config.projections[it->second];
            r.field_error(node, "schema", scope,
                          "'" + p.schema + "' is already owned by projection '" + first.name +
                              "' at line " + std::to_string(first.schema_location.line) +
                              " (a rebuild replaces a schema whole: each projection owns its own)");
        }
    }
}

}  // namespace

bool reaches_listen_address(std::string_view url, std::string_view listen) {
    const auto endpoint = http::parse_listen_address(listen);
    const auto parsed = boost::urls::parse_uri(url);
    if (!endpoint || endpoint->port() == 0 || !parsed) {
        return false;
    }
    const bool https = parsed->scheme_id() == boost::urls::scheme::https;
    const std::uint16_t port = parsed->has_port() && !parsed->port().empty()
                                   ? parsed->port_number()
                                   : static_cast<std::uint16_t>(https ? 443 : 80);
    if (port != endpoint->port()) {
        return false;
    }
    for (const auto& target : url_targets(*parsed)) {
        if (accepts(endpoint->address(), target)) {
            return true;
        }
    }
    return false;
}

void check_contradictions(Reader& r, const YAML::Node& root, const Config& config, bool http_read) {
    const auto projections = Reader::value_of(root, "projections");
    for (std::size_t i = 0; i < config.projections.size(); ++i) {
        const auto item = projections[i];
        check_projection(r, item, item_scope(item, "projection", "projections", i));
    }
    check_schemas(r, root, config);
    const auto webhooks = Reader::value_of(root, "webhooks");
    for (std::size_t i = 0; i < config.webhooks.size(); ++i) {
        const auto item = webhooks[i];
        check_webhook(r, root, item, config.webhooks[i], item_scope(item, "webhook", "webhooks", i),
                      http_read ? &config.http : nullptr);
    }
}

}  // namespace sluice::config
