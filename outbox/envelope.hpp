// The webhook message for one event: the JSON body and the full, signed header set.
// Pure: no I/O, no clock (the signing timestamp is passed in).
// Error policy: a payload or metadata that is not JSON, or a malformed secret, throws
// std::invalid_argument (never containing the secret); everything else cannot fail.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace sluice::outbox {

using Microseconds = std::chrono::microseconds;
using SysTime = std::chrono::sys_time<Microseconds>;

// One event as a webhook message carries it: the whole events row, payload included (unlike
// engine::EventRow, which holds only a position and the columns subscribers filter by).
struct WebhookEvent {
    std::int64_t id = 0;
    std::string aggregate_id;
    std::string aggregate_type;
    std::int64_t version = 0;
    std::string event_type;
    std::string payload;                  // JSON text (jsonb::text)
    std::optional<std::string> metadata;  // JSON text; nullopt when SQL NULL
    SysTime timestamp{};
    std::optional<std::string> data;  // the webhook's `body:` result (JSON text), sent as `data`
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Message {
    std::string id;  // webhook-id
    std::int64_t timestamp = 0;
    std::string body;
    Headers headers;  // lower-case names, in send order
};

// "2021-02-21T17:42:10.123456Z" (UTC, always six fractional digits).
[[nodiscard]] std::string format_timestamp(SysTime t);

// The webhook-id: "msg_<webhook>_<event id>", stable across retries of the same delivery.
// Characters of the webhook name other than [A-Za-z0-9_-] become '_' (no dots: the id is part
// of the signed "{id}.{timestamp}.{body}" content).
[[nodiscard]] std::string message_id(std::string_view webhook, std::int64_t event_id);

// The envelope's version, the body's "schema" field: raised only when a field changes meaning or
// goes away (docs/webhooks.md, docs/webhook-envelope.schema.json).
inline constexpr int envelope_schema = 1;

// {"type","timestamp","schema","data":{"id","aggregate_id","aggregate_type","version","payload",
// "metadata"}}, or with a `body:` {"type","timestamp","schema","data":<its result>}. payload,
// metadata and data are embedded verbatim after validation, so numbers keep the exact text
// PostgreSQL produced (no round trip through double).
[[nodiscard]] std::string build_body(const WebhookEvent& event);

// Body plus headers: webhook-id, webhook-timestamp, webhook-signature, content-type,
// user-agent, the event's trace context (traceparent, tracestate: outbox/trace_context.hpp),
// then the configured static headers. A configured header may replace user-agent
// but never the webhook-*, content-type, content-length, host, connection or
// transfer-encoding headers (those are ignored).
[[nodiscard]] Message build_message(const config::Webhook& webhook, const WebhookEvent& event,
                                    std::int64_t now_unix_seconds);

// The same headers for a body built elsewhere (operational events), under webhook-id `id`;
// trace context only when `metadata` (the event's) is given.
[[nodiscard]] Message build_signed_message(const config::Webhook& webhook, std::string id,
                                           std::string body, std::int64_t now_unix_seconds,
                                           const std::optional<std::string>& metadata = {});

}  // namespace sluice::outbox
