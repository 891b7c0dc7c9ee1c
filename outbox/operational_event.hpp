// Operational events: what sluice announces about one webhook's endpoint (disabled, enabled)
// to the webhook its `notify` names. They travel as ordinary sluice.outbox rows of the notify
// webhook (at least once, signed with its secrets, retried on its schedule), with no events row:
// event_id is the negative of a value of sluice.operational_event_id and the row's `operational`
// column holds {"type": ..., "data": {...}}, written in the same transaction as the state change
// it announces. Pure: building the SQL and the request; the caller runs it.
// Error policy: operational_body throws std::invalid_argument when the stored value is not an
// object with a string "type" and an object "data" (a schema mismatch); nothing else throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <chrono>

#include "config/config.hpp"
#include "infra/pg/async_connection.hpp"
#include "outbox/envelope.hpp"

namespace sluice::outbox {

inline constexpr std::string_view endpoint_disabled_type = "sluice.endpoint.disabled";
inline constexpr std::string_view endpoint_enabled_type = "sluice.endpoint.enabled";
inline constexpr std::string_view circuit_opened_type = "sluice.endpoint.circuit_opened";
inline constexpr std::string_view circuit_closed_type = "sluice.endpoint.circuit_closed";

// "op_<webhook>_<sequence>": the webhook-id of an operational event sent to `webhook`
// (sequence = -event_id of its outbox row), stable across retries.
[[nodiscard]] std::string operational_message_id(std::string_view webhook, std::int64_t sequence);

// {"type","timestamp","schema","data"}: the envelope's top level with the stored data object.
[[nodiscard]] std::string operational_body(std::string_view stored, SysTime timestamp);

[[nodiscard]] Message build_operational_message(const config::Webhook& target,
                                                std::int64_t event_id, std::string_view stored,
                                                SysTime timestamp, std::int64_t now_unix_seconds);

// SQL that enqueues one operational event: an INSERT into sluice.outbox for the notify webhook
// given by the text expression `notify` about the webhook in text expression `subject`, with
// `data` a jsonb expression, run only for the rows of `from_where` (for instance
// "FROM failing WHERE disabled_now"). One aggregate per subject, so with per_aggregate ordering
// one endpoint's announcements arrive in order.
[[nodiscard]] std::string enqueue_operational_sql(std::string_view type, std::string_view notify,
                                                  std::string_view subject, std::string_view data,
                                                  std::string_view from_where);

// The statements that announce one instance's circuit for `webhook` to `notify` (outbox/circuit.hpp
// keeps the circuit in memory, so the worker runs them with the record of the attempt that
// changed it): opened after `consecutive_failures` failures, for `cool_down` first; closed
// again by a delivered probe.
[[nodiscard]] pg::Step circuit_opened_step(const std::string& notify, const std::string& webhook,
                                           int consecutive_failures,
                                           std::chrono::milliseconds cool_down);
[[nodiscard]] pg::Step circuit_closed_step(const std::string& notify, const std::string& webhook);

}  // namespace sluice::outbox
