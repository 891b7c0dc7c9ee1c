#include "engine/lag.hpp"

#include <map>

#include "infra/pg/literal.hpp"

namespace sluice::engine {

std::string lag_lateral(const std::string& quoted_events_table, const std::string& alias) {
    const std::string after = " e WHERE (e.transaction_id, e.id) > (" + alias +
                              ".transaction_id, " + alias + ".event_id)";
    return "(SELECT CASE WHEN n.counted < " + std::to_string(lag_count_cap) +
           " THEN n.counted ELSE greatest(n.counted, coalesce((SELECT max(e.id) FROM " +
           quoted_events_table + " e), 0) - " + alias +
           ".event_id) END AS lag_events, coalesce((SELECT greatest(0, extract(epoch FROM "
           "statement_timestamp() - e.timestamp))::float8 FROM " +
           quoted_events_table + after +
           " ORDER BY e.transaction_id, e.id LIMIT 1), 0) AS lag_seconds FROM (SELECT count(*) "
           "AS counted FROM (SELECT 1 FROM " +
           quoted_events_table + after + " LIMIT " + std::to_string(lag_count_cap) + ") s) n)";
}

boost::asio::awaitable<void> measure_lag(
    pg::AsyncConnection& conn, const std::string& quoted_events_table,
    const std::vector<std::shared_ptr<SubscriberStatus>>& subscribers,
    std::chrono::milliseconds timeout) {
    std::map<Position, std::vector<SubscriberStatus*>> by_position;
    for (const auto& s : subscribers)
        by_position[s->position].push_back(s.get());
    if (by_position.empty())
        co_return;
    // xid8 takes the same literal as a bigint: both arrays come from one builder.
    const auto transaction_ids =
        pg::int_array(by_position, [](const auto& entry) { return entry.first.transaction_id; });
    const auto event_ids =
        pg::int_array(by_position, [](const auto& entry) { return entry.first.id; });
    auto r = co_await conn.query(
        "SELECT lag.lag_events, lag.lag_seconds FROM unnest($1::xid8[], $2::bigint[]) "
        "WITH ORDINALITY AS p(transaction_id, event_id, n) CROSS JOIN LATERAL " +
            lag_lateral(quoted_events_table, "p") + " lag ORDER BY p.n",
        pg::Params(transaction_ids, event_ids), timeout);
    int row = 0;
    for (const auto& [pos, subs] : by_position) {
        auto events = r.int64(row, 0);
        double seconds = std::strtod(std::string(r.text(row, 1)).c_str(), nullptr);
        ++row;
        for (auto* s : subs) {
            // The subscriber may have moved on meanwhile; a stale figure is corrected next time.
            s->lag_events = events;
            s->lag_seconds = seconds;
        }
    }
}

}  // namespace sluice::engine
