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

std::string batched_claim_sql(std::string_view events_table, config::Ordering ordering) {
    const bool ordered = ordering == config::Ordering::per_aggregate;
    std::string sql = R"SQL(WITH due AS (
  SELECT o.id, o.batch_id, o.next_attempt_at, o.operational IS NOT NULL AS operational
    FROM sluice.outbox o
   WHERE o.webhook = $1 AND o.state = 'pending' AND o.next_attempt_at <= now())SQL";
    if (ordered)
        sql += head_of_aggregate_condition("o");
    sql += R"SQL(
   ORDER BY o.next_attempt_at, o.id
   LIMIT $2
   FOR UPDATE OF o SKIP LOCKED),
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
    sql += R"SQL(
   FOR UPDATE OF m SKIP LOCKED),
whole AS (
  SELECT m.batch_id FROM members m GROUP BY m.batch_id
  HAVING count(*) = (SELECT count(*) FROM sluice.outbox p
                      WHERE p.batch_id = m.batch_id AND p.state = 'pending')),
chosen AS (
  SELECT b.id, b.batch_id
    FROM (SELECT f.id, (SELECT c.ids FROM chunks c)[f.chunk + 1] AS batch_id FROM fresh f) b
   WHERE b.batch_id IS NOT NULL
  UNION ALL
  SELECT d.id, NULL::bigint FROM due d WHERE d.operational
  UNION ALL
  SELECT m.id, m.batch_id FROM members m JOIN whole w USING (batch_id)),
claimed AS (
  UPDATE sluice.outbox o SET next_attempt_at = now() + $3::bigint * interval '1 millisecond',
                             batch_id = c.batch_id
    FROM chosen c WHERE o.id = c.id
  )SQL";
    sql += claimed_returning_sql;
    sql += ")\n";
    sql += claimed_select_sql(events_table);
    sql += "\n ORDER BY c.batch_id NULLS FIRST, c.id";
    return sql;
}

std::string batched_next_due_sql() {
    return R"SQL(SELECT ceil(extract(epoch FROM least(
  (SELECT min(next_attempt_at) FROM sluice.outbox
    WHERE webhook = $1 AND state = 'pending' AND next_attempt_at > now()),
  (SELECT min(next_attempt_at) FROM sluice.outbox
    WHERE webhook = $1 AND state = 'pending' AND batch_id IS NULL AND operational IS NULL
      AND next_attempt_at > now() - $2::bigint * interval '1 millisecond'
      AND next_attempt_at <= now()) + $2::bigint * interval '1 millisecond')
  - now()) * 1000)::bigint)SQL";
}

}  // namespace sluice::outbox
