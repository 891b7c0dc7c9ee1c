#include "recording_sink.hpp"

namespace sluice::testing {

std::vector<pg::Step> RecordingSink::apply_steps(
    const std::vector<const engine::EventRow*>& events) const {
    probe_->batch_sizes.push_back(events.size());
    std::string failing = "{";
    for (std::int64_t id : probe_->failing)
        failing += (failing.size() > 1 ? "," : "") + std::to_string(id);
    failing += "}";
    // ORDER BY ordinality: seq numbers the events in the order the runner handed them over.
    return {
        {"INSERT INTO applied (sink, event_id) "
         "SELECT $1, u.id FROM unnest($2::bigint[]) WITH ORDINALITY u(id, n) "
         "WHERE 1 / (CASE WHEN u.id = ANY($3::bigint[]) THEN 0 ELSE 1 END) = 1 "
         "ORDER BY u.n",
         pg::Params(name_, engine::id_array(events), failing)}};
}

}  // namespace sluice::testing
