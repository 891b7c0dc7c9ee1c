#include "outbox/store.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "infra/pg/literal.hpp"
#include "outbox/batch.hpp"
#include "outbox/operational_event.hpp"
#include "outbox/text.hpp"

namespace sluice::outbox {

namespace json = boost::json;

namespace {

// The condition, on webhook_state row `s`, under which a failing endpoint is disabled now:
// enabled, disable_after ($3, ms, 0 = never) set, and failing without a success for that long.
constexpr std::string_view disable_due = R"SQL((s.disabled_at IS NULL AND $3::bigint > 0
      AND s.failing_since <= now() - $3::bigint * interval '1 millisecond'))SQL";

// One statement records a whole batch: the attempts arrive as one JSON array (bound, never
// spliced), every attempt gets its outbox_attempts row (a batched request's one row names its
// members), and each still-pending outbox row moves as its verdict says. A batch's row goes with
// its record, and a lapsed batch's with the record of a member sent alone (after a reload took
// `batch:` away), so that a message requeued later never goes out under that batch's old id. It
// also keeps the endpoint's health (webhook $2): a success clears failing_since (an UPDATE that
// writes only when it was set), a batch of failures only sets it when unset, or disables the
// endpoint once failing_since is disable_after old, announcing that to the notify webhook ($4, NULL
// = none) in the same transaction. Returns one row (the reason) when this batch disabled the
// endpoint. A 410's webhook_state row is a separate step (rare). The messages are joined to their
// outbox rows by id, sized by the planner from the JSON's default estimate (100 rows) whether
// batched or not: sluice.request_members lists a request's members.
std::string record_sql() {
    std::string sql = R"SQL(WITH r AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb)
    AS r(id bigint, ids bigint[], verdict text, delay_ms bigint, status int, error text,
         duration_ms float8, response text, health text, batch bigint)),
landed AS (
  DELETE FROM sluice.outbox_batches b
   WHERE b.id IN (SELECT DISTINCT r.batch FROM r WHERE r.batch IS NOT NULL)
      OR (b.leased_until <= now()
          AND b.members && ARRAY(SELECT r.id FROM r WHERE r.id IS NOT NULL AND r.batch IS NULL))),
attempts AS (
  INSERT INTO sluice.outbox_attempts (outbox_id, members, status, error, duration_ms, response)
  SELECT id, ids, status, error, duration_ms, response FROM r),
moved AS (
UPDATE sluice.outbox o
   SET state = CASE r.verdict WHEN 'delivered' THEN 'delivered' WHEN 'dead' THEN 'dead'
                              ELSE 'pending' END,
       attempts = o.attempts + 1,
       batch_id = coalesce(r.batch, o.batch_id),
       delivered_at = CASE WHEN r.verdict = 'delivered' THEN now() ELSE o.delivered_at END,
       last_error = CASE WHEN r.verdict = 'delivered' THEN NULL ELSE r.error END,
       next_attempt_at = CASE r.verdict
                           WHEN 'retry' THEN now() + r.delay_ms * interval '1 millisecond'
                           WHEN 'disable' THEN now()
                           ELSE o.next_attempt_at END
  FROM (SELECT coalesce(m.id, e.id) AS id, e.verdict, e.delay_ms, e.error, e.batch
          FROM r e LEFT JOIN LATERAL sluice.request_members(e.ids) AS m(id) ON true) r
 WHERE o.id = r.id AND o.state = 'pending'),
health AS (
  SELECT coalesce(bool_or(r.health = 'ok'), false) AS ok,
         coalesce(bool_or(r.health = 'failed'), false) AS failed FROM r),
recovered AS (
  UPDATE sluice.webhook_state s SET failing_since = NULL FROM health h
   WHERE h.ok AND s.webhook = $2 AND s.failing_since IS NOT NULL),
failing AS (
  INSERT INTO sluice.webhook_state AS s (webhook, failing_since)
  SELECT $2, now() FROM health h WHERE h.failed AND NOT h.ok
  ON CONFLICT (webhook) DO UPDATE
     SET failing_since = coalesce(s.failing_since, now()),
         disabled_at = CASE WHEN )SQL";
    sql += disable_due;
    sql += R"SQL( THEN now() ELSE s.disabled_at END,
         disabled_reason = CASE WHEN )SQL";
    sql += disable_due;
    sql += R"SQL( THEN 'no successful delivery since ' || )SQL";
    sql += pg::iso_utc("s.failing_since");
    sql += R"SQL( || ' (disable_after)' ELSE s.disabled_reason END
   WHERE s.failing_since IS NULL OR )SQL";
    sql += disable_due;
    sql += R"SQL(
  RETURNING s.webhook, s.disabled_reason, s.failing_since,
            coalesce(s.disabled_at = now(), false) AS disabled_now),
announced AS (
)SQL";
    sql += enqueue_operational_sql(
        endpoint_disabled_type, "$4::text", "f.webhook",
        "jsonb_build_object('webhook', f.webhook, 'reason', f.disabled_reason, 'failing_since', " +
            pg::iso_utc("f.failing_since") + ", 'disabled_at', " + pg::iso_utc("now()") + ")",
        "  FROM failing f WHERE f.disabled_now AND $4::text IS NOT NULL");
    sql += R"SQL()
SELECT disabled_reason FROM failing WHERE disabled_now)SQL";
    return sql;
}

constexpr std::string_view next_due_sql =
    R"SQL(SELECT ceil(extract(epoch FROM min(next_attempt_at) - now()) * 1000)::bigint
  FROM sluice.outbox WHERE webhook = $1 AND state = 'pending' AND next_attempt_at > now())SQL";

std::string_view verdict_name(Verdict v) {
    switch (v) {
        case Verdict::delivered:
            return "delivered";
        case Verdict::retry:
            return "retry";
        case Verdict::dead:
            return "dead";
        case Verdict::disable:
            return "disable";
    }
    return "retry";
}

json::value health_name(EndpointHealth h) {
    switch (h) {
        case EndpointHealth::ok:
            return "ok";
        case EndpointHealth::failed:
            return "failed";
        case EndpointHealth::unknown:
            break;
    }
    return nullptr;
}

// The RETURNING clause of claim_sql's UPDATE: the columns of the CTE `claimed`.
constexpr std::string_view claimed_returning_sql =
    "RETURNING o.id, o.attempts, o.event_id, o.aggregate_id, o.event_timestamp, o.operational,\n"
    "            o.data, o.batch_id, o.event_type";

SysTime micros(std::int64_t us) {
    return SysTime(Microseconds(us));
}

}  // namespace

// A correlated scalar subquery, not NOT EXISTS: the planner cannot turn it into a hash anti-join
// over every pending row, so each candidate costs one probe of outbox_pending_by_aggregate.
std::string head_of_aggregate_condition(std::string_view alias) {
    const std::string a(alias);
    return "\n     AND " + a + ".event_id = (SELECT min(p.event_id) FROM sluice.outbox p\n" +
           "                        WHERE p.webhook = " + a + ".webhook AND p.aggregate_id = " + a +
           ".aggregate_id\n                          AND p.state = 'pending')";
}

std::string claimed_select_sql(std::string_view events_table) {
    std::string sql = R"SQL(SELECT c.id, c.attempts, c.event_id, c.aggregate_id::text,
       (extract(epoch FROM c.event_timestamp) * 1000000)::bigint,
       e.id, e.aggregate_type, e.version, coalesce(c.event_type, e.event_type), e.payload::text,
       e.metadata::text,
       (extract(epoch FROM coalesce(e.timestamp, c.event_timestamp)) * 1000000)::bigint,
       c.operational::text, c.data::text, c.batch_id
  FROM claimed c LEFT JOIN )SQL";
    sql += pg::quote_qualified(events_table);
    sql += " e ON e.id = c.event_id";
    return sql;
}

// Members of a batch in flight are not claimed alone: another instance may still deliver the
// webhook batched (a reload that took `batch:` away is not yet everywhere).
std::string claim_sql(std::string_view events_table, config::Ordering ordering) {
    std::string sql = R"SQL(WITH due AS (
  SELECT o.id FROM sluice.outbox o
   WHERE o.webhook = $1 AND o.state = 'pending' AND o.next_attempt_at <= now()
     AND o.id NOT IN (SELECT unnest(b.members) FROM sluice.outbox_batches b
                       WHERE b.webhook = $1 AND b.leased_until > now()))SQL";
    if (ordering == config::Ordering::per_aggregate)
        sql += head_of_aggregate_condition("o");
    sql += R"SQL(
   ORDER BY o.next_attempt_at, o.id
   LIMIT $2
   FOR UPDATE OF o SKIP LOCKED),
claimed AS (
  UPDATE sluice.outbox o SET next_attempt_at = now() + $3::bigint * interval '1 millisecond'
    FROM due WHERE o.id = due.id
  )SQL";
    sql += claimed_returning_sql;
    sql += ")\n";
    sql += claimed_select_sql(events_table);  // decode_claimed puts the rows in order
    return sql;
}

std::vector<PreparedStatement> worker_statements(std::string_view events_table,
                                                 const config::Webhook& webhook) {
    const bool batched = webhook.batch.enabled();
    return {
        {std::string(claim_statement), batched ? batched_claim_sql(events_table, webhook.ordering)
                                               : claim_sql(events_table, webhook.ordering)},
        {std::string(record_statement), record_sql()},
        {std::string(next_due_statement),
         batched ? batched_next_due_sql() : std::string(next_due_sql)}};
}

pg::Step claim_step(const config::Webhook& webhook, int limit, std::chrono::milliseconds lease) {
    const auto lease_ms = static_cast<std::int64_t>(lease.count());
    if (webhook.batch.enabled()) {
        return {std::string(claim_statement),
                pg::Params(webhook.name, limit, lease_ms, webhook.batch.max_events,
                           static_cast<std::int64_t>(webhook.batch.max_wait.count())),
                true};
    }
    return {std::string(claim_statement), pg::Params(webhook.name, limit, lease_ms), true};
}

std::vector<ClaimedRow> decode_claimed(const pg::Result& result) {
    if (result.columns() != 15) {
        throw std::runtime_error("outbox claim returned " + std::to_string(result.columns()) +
                                 " columns, expected 15");
    }
    std::vector<ClaimedRow> rows;
    rows.reserve(static_cast<std::size_t>(result.rows()));
    for (int i = 0; i < result.rows(); ++i) {
        ClaimedRow r;
        r.outbox_id = result.int64(i, 0);
        r.attempts = static_cast<int>(result.int64(i, 1));
        r.event_id = result.int64(i, 2);
        r.aggregate_id = std::string(result.text(i, 3));
        r.event_timestamp = micros(result.int64(i, 4));
        if (!result.is_null(i, 5)) {
            WebhookEvent e;
            e.id = result.int64(i, 5);
            e.aggregate_id = r.aggregate_id;
            e.aggregate_type = std::string(result.text(i, 6));
            e.version = result.int64(i, 7);
            e.event_type = std::string(result.text(i, 8));
            e.payload = std::string(result.text(i, 9));
            e.metadata = result.optional_text(i, 10);
            e.timestamp = micros(result.int64(i, 11));
            e.data = result.optional_text(i, 13);
            r.event = std::move(e);
        }
        r.operational = result.optional_text(i, 12);
        if (!result.is_null(i, 14))
            r.batch_id = result.int64(i, 14);
        rows.push_back(std::move(r));
    }
    // Sorted here rather than by the server, which would sort the rows with their payloads.
    std::sort(rows.begin(), rows.end(), [](const ClaimedRow& a, const ClaimedRow& b) {
        return std::pair(a.batch_id.value_or(0), a.outbox_id) <
               std::pair(b.batch_id.value_or(0), b.outbox_id);
    });
    return rows;
}

pg::Step next_due_step(const config::Webhook& webhook) {
    if (webhook.batch.enabled()) {
        return {std::string(next_due_statement),
                pg::Params(webhook.name, static_cast<std::int64_t>(webhook.batch.max_wait.count())),
                true};
    }
    return {std::string(next_due_statement), pg::Params(webhook.name), true};
}

std::string record_batch_json(const std::vector<AttemptRecord>& records) {
    json::array rows;
    rows.reserve(records.size());
    for (const auto& r : records) {
        json::object row;
        if (r.members.empty()) {
            row["id"] = r.outbox_id;
        } else {
            json::array ids;
            ids.reserve(r.members.size());
            for (auto id : r.members)
                ids.emplace_back(id);
            row["ids"] = std::move(ids);
        }
        row["verdict"] = verdict_name(r.verdict);
        row["delay_ms"] = static_cast<std::int64_t>(r.retry_delay.count());
        row["status"] = r.status != 0 ? json::value(r.status) : json::value(nullptr);
        // jsonb refuses NUL and invalid UTF-8; a replaced byte grows to at most 3.
        row["error"] = r.error.empty() ? json::value(nullptr)
                                       : json::value(storable_text(r.error, 3 * r.error.size()));
        row["duration_ms"] = r.duration_ms;
        row["response"] = r.response.empty() ? json::value(nullptr) : json::value(r.response);
        row["health"] = health_name(r.health);
        if (r.batch_id)
            row["batch"] = *r.batch_id;
        rows.emplace_back(std::move(row));
    }
    return json::serialize(rows);
}

std::optional<std::string> notify_of(const config::Webhook& webhook) {
    if (webhook.notify.empty())
        return std::nullopt;
    return webhook.notify;
}

std::vector<pg::Step> record_steps(const config::Webhook& webhook,
                                   const std::vector<AttemptRecord>& records) {
    std::vector<pg::Step> steps;
    if (records.empty())
        return steps;
    steps.push_back(
        {std::string(record_statement),
         pg::Params(record_batch_json(records), webhook.name,
                    static_cast<std::int64_t>(webhook.disable_after.count()), notify_of(webhook)),
         true});
    bool disable = std::any_of(records.begin(), records.end(),
                               [](const auto& r) { return r.verdict == Verdict::disable; });
    if (disable) {
        // Announced only when it was not disabled already (an earlier 410 or disable_after).
        std::string sql = R"SQL(WITH prior AS (
  SELECT disabled_at IS NOT NULL AS disabled FROM sluice.webhook_state WHERE webhook = $1),
disabled AS (
  INSERT INTO sluice.webhook_state (webhook, disabled_at, disabled_reason)
  VALUES ($1, now(), $2)
  ON CONFLICT (webhook) DO UPDATE
     SET disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason
  RETURNING webhook, disabled_reason)
)SQL";
        sql += enqueue_operational_sql(
            endpoint_disabled_type, "$3::text", "d.webhook",
            "jsonb_build_object('webhook', d.webhook, 'reason', d.disabled_reason, "
            "'failing_since', NULL, 'disabled_at', " +
                pg::iso_utc("now()") + ")",
            "  FROM disabled d WHERE $3::text IS NOT NULL\n"
            "   AND NOT coalesce((SELECT disabled FROM prior), false)");
        steps.push_back({std::move(sql), pg::Params(webhook.name, "endpoint answered 410 Gone",
                                                    notify_of(webhook))});
    }
    return steps;
}

pg::Step release_step(const std::vector<std::int64_t>& outbox_ids) {
    return {R"SQL(WITH batches AS (
  UPDATE sluice.outbox_batches SET leased_until = now() WHERE members && $1::bigint[])
UPDATE sluice.outbox SET next_attempt_at = now()
 WHERE id = ANY($1::bigint[]) AND state = 'pending' AND next_attempt_at > now())SQL",
            pg::Params(pg::int_array(outbox_ids))};
}

pg::Step disabled_state_step(const std::string& webhook) {
    return {R"SQL(SELECT disabled_at IS NOT NULL, coalesce(disabled_reason, '')
  FROM sluice.webhook_state WHERE webhook = $1)SQL",
            pg::Params(webhook)};
}

pg::Step retention_step(std::chrono::milliseconds retention, int batch) {
    return {R"SQL(DELETE FROM sluice.outbox WHERE id IN (
  SELECT id FROM sluice.outbox
   WHERE state = 'delivered' AND delivered_at < now() - $1::bigint * interval '1 millisecond'
   LIMIT $2))SQL",
            pg::Params(static_cast<std::int64_t>(retention.count()), batch)};
}

std::string queue_counts_sql() {
    return R"SQL(SELECT webhook, count(*) FILTER (WHERE state = 'pending'),
       count(*) FILTER (WHERE state = 'dead')
  FROM sluice.outbox WHERE state IN ('pending', 'dead') GROUP BY webhook)SQL";
}

}  // namespace sluice::outbox
