#include "projections/projection_sink.hpp"

namespace sluice::projections {

ProjectionSink::ProjectionSink(config::Projection projection, std::string quoted_events_table,
                               std::chrono::milliseconds statement_timeout)
    : projection_(std::move(projection)),
      function_(apply_function(projection_, quoted_events_table)),
      aggregate_types_(projection_.aggregate_types.begin(), projection_.aggregate_types.end()),
      statement_timeout_(statement_timeout) {
    for (const auto& h : projection_.handlers)
        event_types_.insert(h.event_type);
}

boost::asio::awaitable<void> ProjectionSink::prepare(pg::AsyncConnection& conn) {
    if (!projection_.setup.empty())
        co_await conn.exec_script(projection_.setup, statement_timeout_);
    co_await conn.exec_script(function_.create_sql, statement_timeout_);
}

bool ProjectionSink::wants(const tailer::EventRow& event) const {
    if (!event_types_.contains(event.event_type))
        return false;
    return aggregate_types_.empty() || aggregate_types_.contains(event.aggregate_type);
}

std::vector<pg::Step> ProjectionSink::apply_steps(
    const std::vector<const tailer::EventRow*>& events) const {
    return {{function_.call_sql, pg::Params(tailer::id_array(events))}};
}

std::optional<pg::Step> ProjectionSink::catch_up_step(const tailer::Position& from,
                                                      int limit) const {
    return pg::Step{function_.catch_up_sql,
                    pg::Params(projection_.name, std::to_string(from.transaction_id),
                               std::to_string(from.id), limit)};
}

}  // namespace sluice::projections
