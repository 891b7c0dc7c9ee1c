#include "outbox/store.hpp"

#include "outbox/text.hpp"

namespace sluice::outbox {
namespace {

constexpr std::string_view head_of_aggregate_filter = R"SQL(
     AND NOT EXISTS (SELECT 1 FROM sluice.outbox p
                      WHERE p.webhook = o.webhook AND p.aggregate_id = o.aggregate_id
                        AND p.state = 'pending' AND p.event_id < o.event_id))SQL";

SysTime micros(std::int64_t us) {
    return SysTime(Microseconds(us));
}

}  // namespace

std::string claim_sql(std::string_view events_table, config::Ordering ordering) {
    std::string sql = R"SQL(WITH due AS (
  SELECT o.id FROM sluice.outbox o
   WHERE o.webhook = $1 AND o.state = 'pending' AND o.next_attempt_at <= now())SQL";
    if (ordering == config::Ordering::per_aggregate)
        sql += head_of_aggregate_filter;
    sql += R"SQL(
   ORDER BY o.next_attempt_at, o.id
   LIMIT $2
   FOR UPDATE OF o SKIP LOCKED),
claimed AS (
  UPDATE sluice.outbox o SET next_attempt_at = now() + $3::bigint * interval '1 millisecond'
    FROM due WHERE o.id = due.id
  RETURNING o.id, o.attempts, o.event_id, o.aggregate_id, o.event_timestamp)
SELECT c.id, c.attempts, c.event_id, c.aggregate_id::text,
       (extract(epoch FROM c.event_timestamp) * 1000000)::bigint,
       e.id, e.aggregate_type, e.version, e.event_type, e.payload::text, e.metadata::text,
       (extract(epoch FROM coalesce(e.timestamp, c.event_timestamp)) * 1000000)::bigint
  FROM claimed c LEFT JOIN )SQL";
    sql += quote_qualified_identifier(events_table);
    sql += " e ON e.id = c.event_id\n ORDER BY c.id";
    return sql;
}

pg::Step claim_step(std::string_view events_table, const config::Webhook& webhook, int limit,
                    std::chrono::milliseconds lease) {
    return {claim_sql(events_table, webhook.ordering),
            pg::Params(webhook.name, limit, static_cast<std::int64_t>(lease.count()))};
}

std::vector<ClaimedRow> decode_claimed(const pg::Result& result) {
    if (result.columns() != 12) {
        throw pg::Error("outbox claim returned " + std::to_string(result.columns()) +
                        " columns, expected 12");
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
            EventRow e;
            e.id = result.int64(i, 5);
            e.aggregate_id = r.aggregate_id;
            e.aggregate_type = std::string(result.text(i, 6));
            e.version = result.int64(i, 7);
            e.event_type = std::string(result.text(i, 8));
            e.payload = std::string(result.text(i, 9));
            e.metadata = result.optional_text(i, 10);
            e.timestamp = micros(result.int64(i, 11));
            r.event = std::move(e);
        }
        rows.push_back(std::move(r));
    }
    return rows;
}

pg::Step next_due_step(const std::string& webhook) {
    return {R"SQL(SELECT ceil(extract(epoch FROM min(next_attempt_at) - now()) * 1000)::bigint
  FROM sluice.outbox WHERE webhook = $1 AND state = 'pending' AND next_attempt_at > now())SQL",
            pg::Params(webhook)};
}

std::vector<pg::Step> record_steps(const std::string& webhook,
                                   const std::vector<AttemptRecord>& records) {
    std::vector<pg::Step> steps;
    for (const auto& r : records) {
        std::optional<std::string> status;
        if (r.status != 0)
            status = std::to_string(r.status);
        std::optional<std::string> error;
        if (!r.error.empty())
            error = r.error;
        std::optional<std::string> response;
        if (!r.response.empty())
            response = r.response;
        steps.push_back(
            {R"SQL(INSERT INTO sluice.outbox_attempts
  (outbox_id, status, error, duration_ms, response) VALUES ($1, $2::int, $3, $4::float8, $5))SQL",
             pg::Params(r.outbox_id, status, error, std::to_string(r.duration_ms), response)});
        switch (r.verdict) {
            case Verdict::delivered:
                steps.push_back({R"SQL(UPDATE sluice.outbox
   SET state = 'delivered', attempts = attempts + 1, delivered_at = now(), last_error = NULL
 WHERE id = $1 AND state = 'pending')SQL",
                                 pg::Params(r.outbox_id)});
                break;
            case Verdict::retry:
                steps.push_back({R"SQL(UPDATE sluice.outbox
   SET attempts = attempts + 1, last_error = $2,
       next_attempt_at = now() + $3::bigint * interval '1 millisecond'
 WHERE id = $1 AND state = 'pending')SQL",
                                 pg::Params(r.outbox_id, error,
                                            static_cast<std::int64_t>(r.retry_delay.count()))});
                break;
            case Verdict::dead:
                steps.push_back({R"SQL(UPDATE sluice.outbox
   SET state = 'dead', attempts = attempts + 1, last_error = $2
 WHERE id = $1 AND state = 'pending')SQL",
                                 pg::Params(r.outbox_id, error)});
                break;
            case Verdict::disable:
                // The message stays pending and is due again as soon as the endpoint is enabled.
                steps.push_back({R"SQL(UPDATE sluice.outbox
   SET attempts = attempts + 1, last_error = $2, next_attempt_at = now()
 WHERE id = $1 AND state = 'pending')SQL",
                                 pg::Params(r.outbox_id, error)});
                steps.push_back(
                    {R"SQL(INSERT INTO sluice.webhook_state (webhook, disabled_at, disabled_reason)
VALUES ($1, now(), $2)
ON CONFLICT (webhook) DO UPDATE
   SET disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason)SQL",
                     pg::Params(webhook, "endpoint answered 410 Gone")});
                break;
        }
    }
    return steps;
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
