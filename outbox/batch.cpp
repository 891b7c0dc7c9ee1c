#include "outbox/batch.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "infra/pg/literal.hpp"
#include "outbox/store.hpp"

namespace sluice::outbox {

std::string batch_message_id(std::string_view webhook, std::int64_t batch_id) {
    return "batch_" + message_id(webhook, batch_id).substr(4);
}

std::string batch_element(std::string_view webhook, const WebhookEvent& event) {
    std::string element = "{\"id\":";
    element += boost::json::serialize(boost::json::string(message_id(webhook, event.id)));
    element += ',';
    element += std::string_view(build_body(event)).substr(1);  // past its '{'
    return element;
}

Message build_batch_message(const config::Webhook& webhook, std::int64_t batch_id,
                            const std::vector<std::string>& elements,
                            std::int64_t now_unix_seconds) {
    std::size_t size = 2;
    for (const auto& element : elements)
        size += element.size() + 1;
    std::string body;
    body.reserve(size);
    body += '[';
    for (const auto& element : elements) {
        if (body.size() > 1)
            body += ',';
        body += element;
    }
    body += ']';
    return build_signed_message(webhook, batch_message_id(webhook.name, batch_id), std::move(body),
                                now_unix_seconds);
}

pg::Step batched_claim_lock_step(const std::string& webhook) {
    return {"SELECT pg_advisory_xact_lock(hashtextextended('sluice.outbox_claim:' || $1, 0))",
            pg::Params(webhook)};
}

std::string batched_claim_sql(std::string_view events_table, config::Ordering ordering) {
    const bool ordered = ordering == config::Ordering::per_aggregate;
    std::string sql = R"SQL(WITH flight AS MATERIALIZED (
  SELECT b.id, b.members, b.leased_until FROM sluice.outbox_batches b WHERE b.webhook = $1),
busy AS MATERIALIZED (SELECT unnest(f.members) AS id FROM flight f),
lapsed AS MATERIALIZED (
  SELECT f.id, f.members,
         EXISTS (SELECT FROM sluice.outbox p WHERE p.id = ANY (f.members) AND p.state = 'pending')
           AS live
    FROM flight f WHERE f.leased_until <= now()
   ORDER BY f.id LIMIT greatest($2::int / $4::int, 1)),
expired AS MATERIALIZED (
  SELECT l.id AS batch_id, unnest(l.members) AS id FROM lapsed l WHERE l.live),
emptied AS (
  DELETE FROM sluice.outbox_batches b WHERE b.id IN (SELECT l.id FROM lapsed l WHERE NOT l.live)),
due AS (
  SELECT o.id, o.batch_id, o.next_attempt_at, o.operational IS NOT NULL AS operational
    FROM sluice.outbox o
   WHERE o.webhook = $1 AND o.state = 'pending' AND o.next_attempt_at <= now()
     AND o.id NOT IN (SELECT b.id FROM busy b))SQL";
    if (ordered)
        sql += head_of_aggregate_condition("o");
    sql += R"SQL(
   ORDER BY o.next_attempt_at, o.id
   LIMIT greatest($2::int - (SELECT count(*) FROM expired), 0)),
fresh AS (
  SELECT d.id, d.next_attempt_at,
         (row_number() OVER (ORDER BY d.next_attempt_at, d.id) - 1) / $4::int AS chunk
    FROM due d WHERE d.batch_id IS NULL AND NOT d.operational),
chunks AS (
  SELECT array_agg(nextval('sluice.outbox_batch_id') ORDER BY g.chunk) AS ids
    FROM (SELECT f.chunk FROM fresh f GROUP BY f.chunk
           HAVING count(*) = $4::int
               OR min(f.next_attempt_at) <= now() - $5::bigint * interval '1 millisecond') g),
members AS (
  SELECT m.id, m.batch_id FROM sluice.outbox m
   WHERE m.batch_id = ANY (ARRAY(SELECT DISTINCT d.batch_id FROM due d
                                  WHERE d.batch_id IS NOT NULL))
     AND m.webhook = $1 AND m.state = 'pending' AND m.next_attempt_at <= now())SQL";
    if (ordered)
        sql += head_of_aggregate_condition("m");
    sql += R"SQL(),
whole AS (
  SELECT m.batch_id FROM members m GROUP BY m.batch_id
  HAVING count(*) = (SELECT count(*) FROM sluice.outbox p
                      WHERE p.batch_id = m.batch_id AND p.state = 'pending')),
formed AS (
  SELECT b.id, b.batch_id
    FROM (SELECT f.id, (SELECT c.ids FROM chunks c)[f.chunk + 1] AS batch_id FROM fresh f) b
   WHERE b.batch_id IS NOT NULL
  UNION ALL
  SELECT m.id, m.batch_id FROM members m JOIN whole w USING (batch_id)),
leased AS (
  INSERT INTO sluice.outbox_batches (id, webhook, members, leased_until)
  SELECT f.batch_id, $1, array_agg(f.id ORDER BY f.id),
         now() + $3::bigint * interval '1 millisecond'
    FROM formed f GROUP BY f.batch_id),
renewed AS (
  UPDATE sluice.outbox_batches b SET leased_until = now() + $3::bigint * interval '1 millisecond'
   WHERE b.id IN (SELECT DISTINCT e.batch_id FROM expired e)),
alone AS (
  UPDATE sluice.outbox o SET next_attempt_at = now() + $3::bigint * interval '1 millisecond'
    FROM due d WHERE o.id = d.id AND d.operational
  RETURNING o.id),
chosen AS (
  SELECT f.id, f.batch_id FROM formed f
  UNION ALL
  SELECT e.id, e.batch_id FROM expired e
  UNION ALL
  SELECT a.id, NULL::bigint FROM alone a),
claimed AS (
  SELECT o.id, o.attempts, o.event_id, o.aggregate_id, o.event_timestamp, o.operational, o.data,
         c.batch_id, o.event_type
    FROM chosen c JOIN sluice.outbox o ON o.id = c.id AND o.state = 'pending'))SQL";
    sql += "\n";
    sql += claimed_select_sql(events_table);  // decode_claimed puts the rows in order
    return sql;
}

pg::Step settled_batches_step() {
    return {R"SQL(DELETE FROM sluice.outbox_batches b
 WHERE b.leased_until < now()
   AND NOT EXISTS (SELECT FROM sluice.outbox o
                    WHERE o.id = ANY (b.members) AND o.state = 'pending'))SQL",
            {}};
}

std::string batched_next_due_sql() {
    return R"SQL(WITH busy AS MATERIALIZED (
  SELECT unnest(b.members) AS id FROM sluice.outbox_batches b WHERE b.webhook = $1)
SELECT ceil(extract(epoch FROM least(
  (SELECT min(next_attempt_at) FROM sluice.outbox
    WHERE webhook = $1 AND state = 'pending' AND next_attempt_at > now()),
  (SELECT min(leased_until) FROM sluice.outbox_batches WHERE webhook = $1),
  (SELECT min(next_attempt_at) FROM sluice.outbox
    WHERE webhook = $1 AND state = 'pending' AND batch_id IS NULL AND operational IS NULL
      AND next_attempt_at > now() - $2::bigint * interval '1 millisecond'
      AND next_attempt_at <= now() AND id NOT IN (SELECT b.id FROM busy b))
    + $2::bigint * interval '1 millisecond')
  - now()) * 1000)::bigint)SQL";
}

}  // namespace sluice::outbox
