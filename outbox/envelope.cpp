#include "outbox/envelope.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <stdexcept>

#include "outbox/signature.hpp"
#include "outbox/trace_context.hpp"

namespace sluice::outbox {
namespace {

std::string quoted(std::string_view s) {
    return boost::json::serialize(boost::json::string(s));
}

std::string_view checked_json(std::string_view text, std::string_view what) {
    boost::system::error_code ec;
    (void)boost::json::parse(text, ec);
    if (ec)
        throw std::invalid_argument(std::string(what) + " is not valid JSON");
    return text;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

bool is_reserved(std::string_view lower_name) {
    static constexpr std::array<std::string_view, 8> reserved = {
        "webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length",
        "host",       "connection",        "transfer-encoding"};
    return std::find(reserved.begin(), reserved.end(), lower_name) != reserved.end();
}

}  // namespace

std::string format_timestamp(SysTime t) {
    using namespace std::chrono;
    auto day = floor<days>(t);
    year_month_day ymd{day};
    hh_mm_ss<Microseconds> tod{t - day};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(tod.hours().count()),
                  int(tod.minutes().count()), int(tod.seconds().count()),
                  static_cast<long long>(tod.subseconds().count()));
    return buf;
}

std::string message_id(std::string_view webhook, std::int64_t event_id) {
    std::string id = "msg_";
    for (char c : webhook) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        id += ok ? c : '_';
    }
    id += '_';
    id += std::to_string(event_id);
    return id;
}

std::string build_body(const WebhookEvent& event) {
    std::string body;
    body.reserve(event.payload.size() + (event.metadata ? event.metadata->size() : 4) + 256);
    body += "{\"type\":" + quoted(event.event_type);
    body += ",\"timestamp\":" + quoted(format_timestamp(event.timestamp));
    body += ",\"schema\":" + std::to_string(envelope_schema);
    if (event.data) {
        body += ",\"data\":";
        body += checked_json(*event.data, "the webhook body's data");
        body += "}";
        return body;
    }
    body += ",\"data\":{\"id\":" + std::to_string(event.id);
    body += ",\"aggregate_id\":" + quoted(event.aggregate_id);
    body += ",\"aggregate_type\":" + quoted(event.aggregate_type);
    body += ",\"version\":" + std::to_string(event.version);
    body += ",\"payload\":";
    body += checked_json(event.payload, "event payload");
    body += ",\"metadata\":";
    body += event.metadata ? checked_json(*event.metadata, "event metadata") : "null";
    body += "}}";
    return body;
}

Message build_message(const config::Webhook& webhook, const WebhookEvent& event,
                      std::int64_t now_unix_seconds) {
    return build_signed_message(webhook, message_id(webhook.name, event.id), build_body(event),
                                now_unix_seconds, event.metadata);
}

Message build_signed_message(const config::Webhook& webhook, std::string id, std::string body,
                             std::int64_t now_unix_seconds,
                             const std::optional<std::string>& metadata) {
    Message m;
    m.id = std::move(id);
    m.timestamp = now_unix_seconds;
    m.body = std::move(body);
    m.headers = {
        {"webhook-id", m.id},
        {"webhook-timestamp", std::to_string(m.timestamp)},
        {"webhook-signature", sign(m.id, m.timestamp, m.body, webhook.secrets)},
        {"content-type", "application/json"},
        {"user-agent", "sluice/" SLUICE_VERSION},
    };
    const std::size_t user_agent = m.headers.size() - 1;
    bool traced = false;
    if (metadata) {
        for (auto& header : trace_headers(*metadata)) {
            m.headers.push_back(std::move(header));
            traced = true;
        }
    }
    for (const auto& [name, value] : webhook.headers) {
        auto key = lower(name);
        // Reserved names and values that would split the header block are never sent; an
        // event's own trace context wins over a configured one.
        if (is_reserved(key) || value.find_first_of("\r\n") != std::string::npos)
            continue;
        if (traced && (key == "traceparent" || key == "tracestate"))
            continue;
        if (key == "user-agent") {
            m.headers[user_agent].second = value;
            continue;
        }
        m.headers.emplace_back(key, value);
    }
    return m;
}

}  // namespace sluice::outbox
