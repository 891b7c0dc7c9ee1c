#include "outbox/cli.hpp"

#include <algorithm>
#include <map>

#include "infra/pg/literal.hpp"
#include "outbox/operational_event.hpp"
#include "store/channels.hpp"

namespace sluice::outbox {
namespace {

// Wakes running publishers (see store::outbox_channel).
void notify_publishers(pg::Connection& conn, std::string_view payload) {
    conn.exec("SELECT pg_notify($1, $2)", pg::Params(store::outbox_channel, payload));
}

}  // namespace

std::vector<WebhookQueueStatus> outbox_status(pg::Connection& conn,
                                              const std::vector<std::string>& configured_webhooks) {
    std::map<std::string, WebhookQueueStatus> by_name;
    auto entry = [&](const std::string& name) -> WebhookQueueStatus& {
        auto& s = by_name[name];
        s.webhook = name;
        return s;
    };
    for (const auto& name : configured_webhooks)
        entry(name);

    auto counts = conn.exec(R"SQL(
SELECT webhook,
       count(*) FILTER (WHERE state = 'pending'),
       count(*) FILTER (WHERE state = 'pending' AND next_attempt_at <= now()),
       count(*) FILTER (WHERE state = 'pending' AND next_attempt_at > now()),
       count(*) FILTER (WHERE state = 'dead'),
       extract(epoch FROM now() - min(enqueued_at) FILTER (WHERE state = 'pending'))::float8,
       (array_agg(last_error ORDER BY next_attempt_at DESC, id DESC)
          FILTER (WHERE last_error IS NOT NULL))[1]
  FROM sluice.outbox GROUP BY webhook)SQL");
    for (int i = 0; i < counts.rows(); ++i) {
        auto& s = entry(std::string(counts.text(i, 0)));
        s.pending = counts.int64(i, 1);
        s.due = counts.int64(i, 2);
        s.scheduled = counts.int64(i, 3);
        s.dead = counts.int64(i, 4);
        if (!counts.is_null(i, 5))
            s.oldest_pending_age_s = std::stod(std::string(counts.text(i, 5)));
        s.last_error = counts.optional_text(i, 6);
    }

    auto states = conn.exec("SELECT webhook, disabled_at IS NOT NULL, disabled_reason, " +
                            pg::iso_utc("disabled_at") + " FROM sluice.webhook_state");
    for (int i = 0; i < states.rows(); ++i) {
        auto& s = entry(std::string(states.text(i, 0)));
        s.disabled = states.boolean(i, 1);
        if (s.disabled) {
            s.disabled_reason = states.optional_text(i, 2);
            s.disabled_at = states.optional_text(i, 3);
        }
    }

    std::vector<WebhookQueueStatus> out;
    for (const auto& name : configured_webhooks) {
        if (auto it = by_name.find(name); it != by_name.end()) {
            out.push_back(std::move(it->second));
            by_name.erase(it);
        }
    }
    for (auto& [name, s] : by_name)
        out.push_back(std::move(s));
    return out;
}

std::vector<OutboxEntry> outbox_list(pg::Connection& conn, const ListFilter& filter) {
    auto sql =
        "SELECT id, webhook, event_id, aggregate_id::text, state, attempts, "
        "CASE WHEN state = 'pending' THEN " +
        pg::iso_utc("next_attempt_at") + " END, " + pg::iso_utc("enqueued_at") + ", " +
        pg::iso_utc("delivered_at") +
        R"SQL(, last_error FROM sluice.outbox
 WHERE ($1::text IS NULL OR webhook = $1) AND ($2::text IS NULL OR state = $2)
 ORDER BY id LIMIT $3)SQL";
    auto result =
        conn.exec(sql, pg::Params(filter.webhook, filter.state, std::max(0, filter.limit)));
    std::vector<OutboxEntry> out;
    for (int i = 0; i < result.rows(); ++i) {
        OutboxEntry e;
        e.id = result.int64(i, 0);
        e.webhook = std::string(result.text(i, 1));
        e.event_id = result.int64(i, 2);
        e.aggregate_id = std::string(result.text(i, 3));
        e.state = std::string(result.text(i, 4));
        e.attempts = static_cast<int>(result.int64(i, 5));
        e.next_attempt_at = result.optional_text(i, 6);
        e.enqueued_at = std::string(result.text(i, 7));
        e.delivered_at = result.optional_text(i, 8);
        e.last_error = result.optional_text(i, 9);
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<std::string> known_webhooks(pg::Connection& conn) {
    auto result = conn.exec(R"SQL(SELECT webhook FROM sluice.outbox
UNION SELECT webhook FROM sluice.webhook_state ORDER BY 1)SQL");
    std::vector<std::string> out;
    for (int i = 0; i < result.rows(); ++i)
        out.emplace_back(result.text(i, 0));
    return out;
}

RetryOutcome retry_ids(pg::Connection& conn, const std::vector<std::int64_t>& ids,
                       bool delivered_too) {
    RetryOutcome outcome;
    if (ids.empty())
        return outcome;
    pg::Transaction tx(conn);
    auto found = conn.exec(R"SQL(SELECT id, state FROM sluice.outbox
 WHERE id = ANY($1::bigint[]) FOR UPDATE)SQL",
                           pg::Params(pg::int_array(ids)));
    std::map<std::int64_t, std::string> state_of;
    for (int i = 0; i < found.rows(); ++i)
        state_of[found.int64(i, 0)] = std::string(found.text(i, 1));
    for (auto id : ids) {
        auto it = state_of.find(id);
        if (it == state_of.end())
            outcome.unknown.push_back(id);
        else if (it->second == "delivered" && !delivered_too)
            outcome.delivered.push_back(id);
    }
    if (!outcome.unknown.empty() || !outcome.delivered.empty())
        return outcome;  // rolled back: nothing changed
    auto result = conn.exec(R"SQL(UPDATE sluice.outbox
   SET state = 'pending', attempts = 0, next_attempt_at = now(), delivered_at = NULL
 WHERE id = ANY($1::bigint[]))SQL",
                            pg::Params(pg::int_array(ids)));
    notify_publishers(conn, "");
    tx.commit();
    outcome.requeued = std::stoll(result.affected());
    return outcome;
}

std::int64_t retry_webhook(pg::Connection& conn, const std::string& webhook,
                           const std::string& state) {
    auto result = conn.exec(R"SQL(UPDATE sluice.outbox
   SET state = 'pending', attempts = 0, next_attempt_at = now(), delivered_at = NULL
 WHERE webhook = $1 AND state = $2)SQL",
                            pg::Params(webhook, state));
    notify_publishers(conn, "");
    return std::stoll(result.affected());
}

bool enable(pg::Connection& conn, const std::string& webhook,
            const std::optional<std::string>& notify) {
    std::string sql = R"SQL(WITH cleared AS (
  DELETE FROM sluice.webhook_state WHERE webhook = $1
  RETURNING webhook, disabled_at IS NOT NULL AS was_disabled),
announced AS (
)SQL";
    sql += enqueue_operational_sql(
        endpoint_enabled_type, "$2::text", "c.webhook",
        "jsonb_build_object('webhook', c.webhook, 'enabled_at', " + pg::iso_utc("now()") + ")",
        "  FROM cleared c WHERE c.was_disabled AND $2::text IS NOT NULL");
    sql += ")\nSELECT was_disabled FROM cleared";
    auto result = conn.exec(sql, pg::Params(webhook, notify));
    // Running publishers re-read their state at once instead of at their next check (5 s).
    notify_publishers(conn, store::outbox_state_payload);
    return result.rows() == 1 && result.boolean(0, 0);
}

}  // namespace sluice::outbox
