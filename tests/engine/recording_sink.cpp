#include "recording_sink.hpp"

#include "infra/pg/literal.hpp"

namespace sluice::testing {

std::vector<pg::Step> RecordingSink::apply_steps(
    const std::vector<const engine::EventRow*>& events) const {
    probe_->batch_sizes.push_back(events.size());
    // ORDER BY ordinality: seq numbers the events in the order the runner handed them over.
    return {
        {"INSERT INTO applied (sink, event_id) "
         "SELECT $1, u.id FROM unnest($2::bigint[]) WITH ORDINALITY u(id, n) "
         "WHERE 1 / (CASE WHEN u.id = ANY($3::bigint[]) THEN 0 ELSE 1 END) = 1 "
         "ORDER BY u.n",
         pg::Params(name_,
                    pg::int_array(events, [](const engine::EventRow* e) { return e->position.id; }),
                    pg::int_array(probe_->failing))}};
}

}  // namespace sluice::testing
