// What sluice's own SQL functions (store/migrations.cpp: sluice.advance_checkpoint,
// sluice.begin_batch, sluice.check_owner) report when a batch must not commit: not a failure of
// the statement or the handler, but an outcome of several writers meeting. They arrive as a
// pg::ServerError with a SQLSTATE of class SL; this is the one place that maps them.
// Error policy: pure; never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "infra/pg/error.hpp"

namespace sluice::store {

enum class Coordination {
    checkpoint_moved,  // SL001: the stored position is not the one this writer last saw
    subscriber_busy,   // SL002: another session (a rebuild) holds the subscriber
    owner_lost,        // SL003: another instance owns the subscriber now
};

// The SQLSTATEs the migrations' functions raise (USING ERRCODE = ...).
inline constexpr std::string_view checkpoint_moved_sqlstate = "SL001";
inline constexpr std::string_view subscriber_busy_sqlstate = "SL002";
inline constexpr std::string_view owner_lost_sqlstate = "SL003";
// Not a coordination outcome: the events trigger refusing an INSERT from a session named as one
// of sluice's event-free sessions (store/sessions.hpp).
inline constexpr std::string_view event_free_session_sqlstate = "SL004";

// What a runner presents to sluice.check_owner for a unit held by a lease (migration 10): the
// instance and the lease's fencing token, which changes on every takeover.
[[nodiscard]] inline std::string lease_owner(std::string_view instance, std::int64_t token) {
    return std::string(instance) + "#" + std::to_string(token);
}

// The coordination outcome a refused statement reports, nullopt for any other error.
[[nodiscard]] std::optional<Coordination> coordination_of(const pg::ServerError& e);

}  // namespace sluice::store
