// The SQL of a webhook's dispatcher: the INSERT that enqueues a batch's events (with the
// webhook's `filter:` as its condition and `body:` as the stored `data`), and the query that
// checks those two expressions before the first batch. An expression's :name parameters become
// the event row's columns (e."payload"), so no event value is ever spliced into SQL text.
// Pure. Error policy: std::invalid_argument for a :name that is not an event parameter (the
// config reader reports those first, with their place).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "engine/upcast.hpp"

namespace sluice::outbox {

// INSERT INTO sluice.outbox ... for $1 = webhook name, $2 = the batch's event ids (bigint[]).
// With upcasters, `filter:` and `body:` see each event through them, and `event_types` are
// matched against its upcast type (the ids given may include events that turn out otherwise).
[[nodiscard]] std::string enqueue_sql(const config::Webhook& webhook,
                                      const std::string& quoted_events_table,
                                      const engine::Upcast& upcast = {});

// The condition the enqueue puts on an event the dispatcher was given (DispatchSink::wants),
// over the events row `e` and, with upcasters, its upcast columns `sluice_up`
// (upcast.call("e")): the upcast type among `event_types`, and `filter:`. Empty when there is
// none. `sluice verify` looks for events it holds for that have no outbox row.
[[nodiscard]] std::string enqueue_condition(const config::Webhook& webhook,
                                            const engine::Upcast& upcast = {});

// A query of one row and one text column: the type of `expression`, parsed and planned against
// the events table without reading a row.
[[nodiscard]] std::string expression_type_sql(const config::EventExpression& expression,
                                              const std::string& quoted_events_table);

// What is wrong with an expression of type `type` as `key` ("filter" must be boolean, "body"
// jsonb); nullopt when it fits.
[[nodiscard]] std::optional<std::string> expression_type_problem(std::string_view key,
                                                                 std::string_view type);

}  // namespace sluice::outbox
