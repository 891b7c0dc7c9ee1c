#include "engine/quarantine.hpp"

#include "infra/pg/literal.hpp"
#include "store/parked.hpp"

namespace sluice::engine {

boost::asio::awaitable<void> measure_quarantine(
    pg::AsyncConnection& conn, const std::vector<std::shared_ptr<SubscriberStatus>>& subscribers,
    std::chrono::milliseconds timeout) {
    if (subscribers.empty())
        co_return;
    std::vector<std::string> names;
    names.reserve(subscribers.size());
    for (const auto& s : subscribers)
        names.push_back(s->name);
    auto r = co_await conn.query("SELECT " + store::quarantined_aggregates_sql("s.name") +
                                     " FROM unnest($1::text[]) WITH ORDINALITY AS s(name, n) "
                                     "ORDER BY s.n",
                                 pg::Params(pg::text_array(names)), timeout);
    for (int i = 0; i < r.rows() && i < static_cast<int>(subscribers.size()); ++i)
        subscribers[static_cast<std::size_t>(i)]->quarantined = r.int64(i, 0);
}

}  // namespace sluice::engine
