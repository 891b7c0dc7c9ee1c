#include "outbox/dispatcher.hpp"

#include "infra/pg/literal.hpp"

namespace sluice::outbox {

DispatchSink::DispatchSink(const config::Webhook& webhook, const std::string& quoted_events_table)
    : name_(webhook.name),
      event_types_(webhook.event_types.begin(), webhook.event_types.end()),
      aggregate_types_(webhook.aggregate_types.begin(), webhook.aggregate_types.end()),
      insert_sql_(
          "INSERT INTO sluice.outbox (webhook, event_id, aggregate_id, event_timestamp) "
          "SELECT $1, e.id, e.aggregate_id, coalesce(e.\"timestamp\", now()) "
          "FROM unnest($2::bigint[]) WITH ORDINALITY AS u(id, ord) JOIN " +
          quoted_events_table +
          " e ON e.id = u.id ORDER BY u.ord ON CONFLICT (webhook, event_id) DO NOTHING") {
    on_error_.retries = 1000000;
    on_error_.backoff = std::chrono::seconds(1);
}

bool DispatchSink::wants(const engine::EventRow& event) const {
    if (!event_types_.empty() && !event_types_.contains(event.event_type))
        return false;
    return aggregate_types_.empty() || aggregate_types_.contains(event.aggregate_type);
}

std::vector<pg::Step> DispatchSink::apply_steps(
    const std::vector<const engine::EventRow*>& events) const {
    return {{insert_sql_, pg::Params(name_, pg::int_array(events, [](const engine::EventRow* e) {
                                         return e->position.id;
                                     }))}};
}

}  // namespace sluice::outbox
