#include "outbox/operational_event.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <stdexcept>

#include "infra/pg/literal.hpp"

namespace sluice::outbox {

namespace json = boost::json;

std::string operational_message_id(std::string_view webhook, std::int64_t sequence) {
    // message_id's character rules, with the "op_" prefix a receiver can tell apart.
    return "op_" + message_id(webhook, sequence).substr(4);
}

std::string operational_body(std::string_view stored, SysTime timestamp) {
    boost::system::error_code ec;
    auto value = json::parse(stored, ec);
    const auto* object = ec ? nullptr : value.if_object();
    const auto* type = object ? object->if_contains("type") : nullptr;
    const auto* data = object ? object->if_contains("data") : nullptr;
    if (!type || !type->is_string() || !data || !data->is_object())
        throw std::invalid_argument("operational event is not {\"type\": ..., \"data\": {...}}");
    std::string body = "{\"type\":" + json::serialize(type->as_string());
    body += ",\"timestamp\":" + json::serialize(json::string(format_timestamp(timestamp)));
    body += ",\"schema\":" + std::to_string(envelope_schema);
    body += ",\"data\":" + json::serialize(*data) + "}";
    return body;
}

Message build_operational_message(const config::Webhook& target, std::int64_t event_id,
                                  std::string_view stored, SysTime timestamp,
                                  std::int64_t now_unix_seconds) {
    return build_signed_message(target, operational_message_id(target.name, -event_id),
                                operational_body(stored, timestamp), now_unix_seconds);
}

std::string enqueue_operational_sql(std::string_view type, std::string_view notify,
                                    std::string_view subject, std::string_view data,
                                    std::string_view from_where) {
    std::string sql = R"SQL(INSERT INTO sluice.outbox
  (webhook, event_id, aggregate_id, event_timestamp, operational)
SELECT )SQL";
    sql += notify;
    sql += ", -nextval('sluice.operational_event_id'), md5('sluice.endpoint:' || ";
    sql += subject;
    sql += ")::uuid, now(), jsonb_build_object('type', ";
    sql += pg::quote_literal(std::string(type));
    sql += ", 'data', ";
    sql += data;
    sql += ")\n";
    sql += from_where;
    return sql;
}

pg::Step circuit_opened_step(const std::string& notify, const std::string& webhook,
                             int consecutive_failures, std::chrono::milliseconds cool_down) {
    return {enqueue_operational_sql(circuit_opened_type, "$1::text", "$2::text",
                                    "jsonb_build_object('webhook', $2::text, "
                                    "'consecutive_failures', $3::int, 'cool_down_ms', $4::bigint, "
                                    "'opened_at', " +
                                        pg::iso_utc("now()") + ")",
                                    ""),
            pg::Params(notify, webhook, consecutive_failures,
                       static_cast<std::int64_t>(cool_down.count()))};
}

pg::Step circuit_closed_step(const std::string& notify, const std::string& webhook) {
    return {enqueue_operational_sql(circuit_closed_type, "$1::text", "$2::text",
                                    "jsonb_build_object('webhook', $2::text, 'closed_at', " +
                                        pg::iso_utc("now()") + ")",
                                    ""),
            pg::Params(notify, webhook)};
}

}  // namespace sluice::outbox
