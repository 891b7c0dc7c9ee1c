#include "outbox/dispatcher.hpp"

#include <stdexcept>

#include "engine/upcast_install.hpp"
#include "infra/pg/async_connection.hpp"
#include "infra/pg/literal.hpp"
#include "outbox/dispatch_sql.hpp"

namespace sluice::outbox {

DispatchSink::DispatchSink(const config::Webhook& webhook, const std::string& quoted_events_table,
                           engine::Upcast upcast)
    : name_(webhook.name),
      upcast_(std::move(upcast)),
      event_types_(upcast_.sources_of({webhook.event_types.begin(), webhook.event_types.end()})),
      aggregate_types_(webhook.aggregate_types.begin(), webhook.aggregate_types.end()),
      insert_sql_(enqueue_sql(webhook, quoted_events_table, upcast_)),
      on_error_(webhook.on_error) {
    if (webhook.filter) {
        expressions_.push_back({"filter", expression_type_sql(*webhook.filter, quoted_events_table),
                                webhook.filter->location});
    }
    if (webhook.body) {
        expressions_.push_back({"body", expression_type_sql(*webhook.body, quoted_events_table),
                                webhook.body->location});
    }
}

boost::asio::awaitable<void> DispatchSink::prepare(pg::AsyncConnection& conn) {
    for (const auto& e : expressions_) {
        std::string problem;
        try {
            auto type = co_await conn.query(e.type_sql, {}, statement_timeout_);
            problem = expression_type_problem(e.key, type.text(0, 0)).value_or("");
        } catch (const pg::ServerError& error) {
            problem = std::string(error.what()) + " (SQLSTATE " + error.sqlstate() + ")";
        }
        if (!problem.empty()) {
            throw std::runtime_error(config::format(
                {e.location, std::string(e.key) + " of webhook '" + name_ + "': " + problem}));
        }
    }
    co_await engine::install_upcast(conn, upcast_, statement_timeout_);
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
