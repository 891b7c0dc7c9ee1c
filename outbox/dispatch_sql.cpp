#include "outbox/dispatch_sql.hpp"

#include <stdexcept>
#include <vector>

#include "infra/pg/literal.hpp"
#include "infra/sql/sql_template.hpp"

namespace sluice::outbox {
namespace {

// The expression over the events row `e` (and, with upcasters, its upcast columns
// `sluice_up`), parenthesised so that it stays one operand.
std::string embedded(const config::EventExpression& expression, bool upcast = false) {
    return "(" +
           sql::substitute_params(
               expression.sql,
               [upcast](const sql::ParamRef& ref) {
                   if (!sql::is_event_param(ref.name))
                       throw std::invalid_argument("unknown parameter :" + ref.name);
                   if (upcast && (ref.name == "payload" || ref.name == "event_type"))
                       return "sluice_up.\"" + ref.name + "\"";
                   return "e.\"" + ref.name + "\"";
               }) +
           "\n)";
}

}  // namespace

std::string enqueue_condition(const config::Webhook& webhook, const engine::Upcast& upcast) {
    const bool up = !upcast.empty();
    std::string condition;
    if (up && !webhook.event_types.empty())
        condition = "sluice_up.event_type = ANY (" +
                    pg::quote_literal(pg::text_array(webhook.event_types)) + "::text[])";
    if (webhook.filter)
        condition += (condition.empty() ? "" : " AND ") + embedded(*webhook.filter, up);
    return condition;
}

std::string enqueue_sql(const config::Webhook& webhook, const std::string& quoted_events_table,
                        const engine::Upcast& upcast) {
    const bool up = !upcast.empty();
    // Without body:, an event an upcaster changed is sent as upcast: its data (the envelope's
    // default shape, built here) and its type are stored with the message; any other event's
    // are built from the stored event at delivery.
    std::string data = "NULL::jsonb";
    if (webhook.body) {
        data = embedded(*webhook.body, up);
    } else if (up) {
        data =
            "CASE WHEN sluice_up.payload IS DISTINCT FROM e.payload THEN jsonb_build_object("
            "'id', e.id, 'aggregate_id', e.aggregate_id, 'aggregate_type', e.aggregate_type, "
            "'version', e.version, 'payload', sluice_up.payload, 'metadata', e.metadata) END";
    }
    const std::string event_type =
        up ? "nullif(sluice_up.event_type, e.event_type)" : std::string("NULL::text");
    const std::string condition = enqueue_condition(webhook, upcast);
    const std::string where = condition.empty() ? "" : " WHERE " + condition;
    const std::string from = quoted_events_table + " e ON e.id = u.id" +
                             (up ? " CROSS JOIN LATERAL " + upcast.call("e") + " sluice_up" : "");
    return "INSERT INTO sluice.outbox (webhook, event_id, aggregate_id, event_timestamp, data, "
           "event_type) SELECT $1, e.id, e.aggregate_id, coalesce(e.\"timestamp\", now()), " +
           data + ", " + event_type +
           " FROM unnest($2::bigint[]) WITH ORDINALITY AS u(id, ord) JOIN " + from + where +
           " ORDER BY u.ord ON CONFLICT (webhook, event_id) DO NOTHING";
}

std::string expression_type_sql(const config::EventExpression& expression,
                                const std::string& quoted_events_table) {
    // A scalar subquery over no row is a NULL of the expression's type.
    return "SELECT pg_typeof((SELECT " + embedded(expression) + " FROM " + quoted_events_table +
           " e WHERE false))::text";
}

std::optional<std::string> expression_type_problem(std::string_view key, std::string_view type) {
    const std::string_view wanted = key == "filter" ? "boolean" : "jsonb";
    if (type == wanted)
        return std::nullopt;
    std::string problem = std::string(key) + " must be of type " + std::string(wanted) +
                          ", but is of type " + std::string(type);
    if (key == "body" && (type == "json" || type == "text"))
        problem += " (add ::jsonb, or build it with jsonb_build_object)";
    return problem;
}

}  // namespace sluice::outbox
