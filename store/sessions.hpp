// The application_name of each of sluice's own database sessions, defined once. Those that
// never write events are named in sluice.writes_no_events() (store/migrations.cpp builds it
// from event_free_sessions): the event horizon looks past their open transactions, and the
// events trigger refuses an INSERT from any session that carries one of these names.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace sluice::store::sessions {

inline constexpr std::string_view coordination = "sluice coordination";
inline constexpr std::string_view listen = "sluice listen";
inline constexpr std::string_view tailer = "sluice tailer";
inline constexpr std::string_view monitor = "sluice monitor";
inline constexpr std::string_view outbox = "sluice outbox";
inline constexpr std::string_view outbox_listener = "sluice outbox listener";
inline constexpr std::string_view outbox_maintenance = "sluice outbox maintenance";
// Builds a part index (projections/part_index.hpp). Not event-free by name, yet it never holds
// back the horizon: CREATE INDEX CONCURRENTLY builds without a transaction id.
inline constexpr std::string_view part_index = "sluice part index";

// `sluice rebuild` and `sluice rollback` replay handlers over events that were applied before:
// events a handler appended then would be appended again, so their sessions may not write any,
// and so their long replays never hold the live projections back.
inline constexpr std::string_view rebuild = "sluice rebuild";
inline constexpr std::string_view rollback = "sluice rollback";

// The sessions whose transactions never insert into the events table.
inline constexpr std::array<std::string_view, 9> event_free_sessions = {
    coordination,       listen,  tailer,  monitor, outbox, outbox_listener,
    outbox_maintenance, rebuild, rollback};
// A subscriber's session is "sluice <kind> <name>"; a webhook's only enqueues into the outbox,
// so it is event-free too. A projection's handlers are the user's SQL and may append events.
inline constexpr std::string_view webhook_prefix = "sluice webhook ";

[[nodiscard]] inline std::string subscriber(std::string_view kind, std::string_view name) {
    return "sluice " + std::string(kind) + " " + std::string(name);
}

}  // namespace sluice::store::sessions
