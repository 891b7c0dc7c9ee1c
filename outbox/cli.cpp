#include "outbox/cli.hpp"

#include <algorithm>
#include <map>

#include "infra/pg/literal.hpp"
#include "outbox/batch.hpp"
#include "outbox/operational_event.hpp"
#include "store/channels.hpp"

namespace sluice::outbox {
namespace {

// Wakes running publishers (see store::outbox_channel).
void notify_publishers(pg::Connection& conn, std::string_view payload) {
    conn.exec("SELECT pg_notify($1, $2)", pg::Params(store::outbox_channel, payload));
}

// What makes a settled or pending message due again: same row (so the same webhook-id), a fresh
// attempts count; its recorded attempts stay in sluice.outbox_attempts. A batched message leaves
// its batch (the batch's other members may not be sent again) and joins a new one when claimed.
constexpr std::string_view requeue_set =
    "SET state = 'pending', attempts = 0, next_attempt_at = now(), delivered_at = NULL, "
    "batch_id = NULL";

// Whether attempt row `a` is one of message `id`'s: its own, or one of a batched request that
// carried it (found through the GIN index on members).
std::string attempt_of(std::string_view a, std::string_view id) {
    const std::string alias(a), message(id);
    return "(" + alias + ".outbox_id = " + message + " OR " + alias + ".members @> ARRAY[" +
           message + "])";
}

// The columns entry_of() reads, over sluice.outbox o LEFT JOIN the events table e. A message's
// batch is in o.batch_id once an attempt of it is recorded, and in sluice.outbox_batches while its
// first attempt is in flight.
std::string entry_columns() {
    return "o.id, o.webhook, o.event_id, o.aggregate_id::text, o.state, o.attempts, "
           "CASE WHEN o.state = 'pending' THEN " +
           pg::iso_utc("o.next_attempt_at") + " END, " + pg::iso_utc("o.enqueued_at") + ", " +
           pg::iso_utc("o.delivered_at") +
           ", o.last_error, e.event_type, e.version, coalesce(o.batch_id, (SELECT b.id FROM "
           "sluice.outbox_batches b WHERE o.state = 'pending' AND o.id = ANY (b.members) LIMIT 1))";
}

OutboxEntry entry_of(const pg::Result& result, int i) {
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
    e.event_type = result.optional_text(i, 10);
    if (!result.is_null(i, 11))
        e.version = result.int64(i, 11);
    if (!result.is_null(i, 12))
        e.batch_id = result.int64(i, 12);
    return e;
}

}  // namespace

std::string own_message_id(const OutboxEntry& entry) {
    if (entry.event_id < 0)
        return operational_message_id(entry.webhook, -entry.event_id);
    return message_id(entry.webhook, entry.event_id);
}

std::optional<std::string> batch_request_id(const OutboxEntry& entry) {
    if (!entry.batch_id)
        return std::nullopt;
    return batch_message_id(entry.webhook, *entry.batch_id);
}

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

std::vector<OutboxEntry> outbox_list(pg::Connection& conn, const ListFilter& filter,
                                     const std::string& quoted_events_table) {
    const std::string sql = "SELECT " + entry_columns() + " FROM sluice.outbox o LEFT JOIN " +
                            quoted_events_table + R"SQL( e ON e.id = o.event_id
 WHERE ($1::text IS NULL OR o.webhook = $1) AND ($2::text IS NULL OR o.state = $2)
   AND ($3::timestamptz IS NULL OR o.enqueued_at >= $3)
   AND ($4::timestamptz IS NULL OR o.enqueued_at < $4)
   AND ($5::text IS NULL OR e.event_type = $5)
 ORDER BY o.id LIMIT $6)SQL";
    auto result = conn.exec(
        sql, pg::Params(filter.webhook, filter.state, filter.enqueued.since, filter.enqueued.until,
                        filter.event_type, std::max(0, filter.limit)));
    std::vector<OutboxEntry> out;
    for (int i = 0; i < result.rows(); ++i)
        out.push_back(entry_of(result, i));
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
    auto result = conn.exec(
        "UPDATE sluice.outbox " + std::string(requeue_set) + " WHERE id = ANY($1::bigint[])",
        pg::Params(pg::int_array(ids)));
    notify_publishers(conn, "");
    tx.commit();
    outcome.requeued = std::stoll(result.affected());
    return outcome;
}

std::int64_t retry_webhook(pg::Connection& conn, const std::string& webhook,
                           const std::string& state) {
    auto result = conn.exec(
        "UPDATE sluice.outbox " + std::string(requeue_set) + " WHERE webhook = $1 AND state = $2",
        pg::Params(webhook, state));
    notify_publishers(conn, "");
    return std::stoll(result.affected());
}

std::optional<MessageHistory> outbox_show(pg::Connection& conn, std::int64_t id,
                                          const std::string& quoted_events_table) {
    auto found = conn.exec("SELECT " + entry_columns() + " FROM sluice.outbox o LEFT JOIN " +
                               quoted_events_table + " e ON e.id = o.event_id WHERE o.id = $1",
                           pg::Params(id));
    if (found.rows() == 0)
        return std::nullopt;
    MessageHistory history{entry_of(found, 0), {}};
    auto attempts = conn.exec("SELECT " + pg::iso_utc("attempted_at") +
                                  ", status, error, duration_ms, response "
                                  "FROM sluice.outbox_attempts a WHERE " +
                                  attempt_of("a", "$1::bigint") + " ORDER BY attempted_at",
                              pg::Params(id));
    for (int i = 0; i < attempts.rows(); ++i) {
        Attempt a;
        a.attempted_at = std::string(attempts.text(i, 0));
        if (!attempts.is_null(i, 1))
            a.status = static_cast<int>(attempts.int64(i, 1));
        a.error = attempts.optional_text(i, 2);
        a.duration_ms = std::stod(std::string(attempts.text(i, 3)));
        a.response = attempts.optional_text(i, 4);
        history.attempts.push_back(std::move(a));
    }
    return history;
}

ReplayOutcome replay(pg::Connection& conn, const ReplayFilter& filter,
                     const std::string& quoted_events_table, bool dry_run) {
    // A message settles when it is delivered, or (dead) at its last attempt.
    const std::string settled_at =
        "coalesce(o.delivered_at, (SELECT max(a.attempted_at) FROM sluice.outbox_attempts a "
        "WHERE " +
        attempt_of("a", "o.id") + "), o.enqueued_at)";
    const std::string sql = R"SQL(WITH chosen AS (
  SELECT o.id, o.state FROM sluice.outbox o LEFT JOIN )SQL" +
                            quoted_events_table + R"SQL( e ON e.id = o.event_id
   WHERE o.webhook = $1 AND o.state IN ('delivered', 'dead')
     AND ($2::timestamptz IS NULL OR )SQL" +
                            settled_at + R"SQL( >= $2)
     AND ($3::timestamptz IS NULL OR )SQL" +
                            settled_at + R"SQL( < $3)
     AND ($4::text IS NULL OR e.event_type = $4)
     FOR UPDATE OF o),
requeued AS (
  UPDATE sluice.outbox o )SQL" +
                            std::string(requeue_set) +
                            R"SQL( FROM chosen c WHERE o.id = c.id AND NOT $5 RETURNING o.id)
SELECT count(*) FILTER (WHERE state = 'delivered'), count(*) FILTER (WHERE state = 'dead')
  FROM chosen)SQL";
    pg::Transaction tx(conn);
    auto result =
        conn.exec(sql, pg::Params(filter.webhook, filter.settled.since, filter.settled.until,
                                  filter.event_type, dry_run ? "true" : "false"));
    ReplayOutcome outcome{result.int64(0, 0), result.int64(0, 1)};
    if (!dry_run && outcome.delivered + outcome.dead > 0)
        notify_publishers(conn, "");
    tx.commit();
    return outcome;
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
