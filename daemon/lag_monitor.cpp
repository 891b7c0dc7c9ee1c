#include "daemon/lag_monitor.hpp"

#include <map>

namespace sluice::daemon {

boost::asio::awaitable<void> measure_lag(
    pg::AsyncConnection& conn, const std::string& quoted_events_table,
    const std::vector<std::shared_ptr<engine::SubscriberStatus>>& subscribers) {
    std::map<engine::Position, std::vector<engine::SubscriberStatus*>> by_position;
    for (const auto& s : subscribers)
        by_position[s->position].push_back(s.get());
    if (by_position.empty())
        co_return;
    std::string sql =
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM " + quoted_events_table +
        " WHERE (transaction_id, id) > ($1::xid8, $2::bigint) LIMIT " +
        std::to_string(lag_count_cap) +
        ") s), coalesce((SELECT extract(epoch FROM clock_timestamp() - timestamp)::float8 FROM " +
        quoted_events_table +
        " WHERE (transaction_id, id) > ($1::xid8, $2::bigint) ORDER BY transaction_id, id "
        "LIMIT 1), 0)";
    std::vector<pg::Step> steps;
    for (const auto& [pos, subs] : by_position) {
        steps.push_back(
            {sql, pg::Params(std::to_string(pos.transaction_id), std::to_string(pos.id))});
    }
    auto results = co_await conn.pipeline(std::move(steps), std::chrono::seconds(30));
    std::size_t i = 0;
    for (const auto& [pos, subs] : by_position) {
        const pg::Result& r = results[i++];
        auto events = r.int64(0, 0);
        double seconds = std::max(0.0, std::strtod(std::string(r.text(0, 1)).c_str(), nullptr));
        for (auto* s : subs) {
            // The subscriber may have moved on meanwhile; a stale figure is corrected next time.
            s->lag_events = events;
            s->lag_seconds = events == 0 ? 0 : seconds;
        }
    }
}

}  // namespace sluice::daemon
