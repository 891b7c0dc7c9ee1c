// What a subscriber does with events: a projection's handlers or a webhook's enqueue. The
// runner owns the loop, the connection and the checkpoint; a sink only says which events it
// wants and which statements apply them, so its work commits in the checkpoint's transaction.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "engine/event_row.hpp"
#include "infra/pg/async_connection.hpp"

namespace sluice::engine {

class Sink {
  public:
    virtual ~Sink() = default;

    [[nodiscard]] virtual const std::string& name() const = 0;
    // "projection" | "webhook" | "snapshot"
    [[nodiscard]] virtual std::string_view kind() const = 0;
    [[nodiscard]] virtual const config::OnError& on_error() const = 0;

    // Runs on every new connection before use (setup SQL, session functions). Idempotent.
    virtual boost::asio::awaitable<void> prepare(pg::AsyncConnection& conn) = 0;

    [[nodiscard]] virtual bool wants(const EventRow& event) const = 0;

    // Statements applying `events` (non-empty, all wanted, in delivery order). They run in one
    // transaction together with the checkpoint update.
    [[nodiscard]] virtual std::vector<pg::Step> apply_steps(
        const std::vector<const EventRow*>& events) const = 0;

    // Optional: one statement that reads up to `limit` events after `from` inside the server,
    // applies them, moves the checkpoint (guarded like a batch: when `owner` is not empty it
    // first checks, as sluice.check_owner does, that this instance still owns the subscriber),
    // adds the events it wants to the checkpoint's applied-event counter as the batch path does,
    // and returns one row (rows_read, applied, last_tx, last_id, last_ts). The runner uses it
    // behind and at the head: one round trip per wake-up.
    [[nodiscard]] virtual std::optional<pg::Step> catch_up_step(
        const Position& /*from*/, int /*limit*/, const std::string& /*owner*/) const {
        return std::nullopt;
    }
};

}  // namespace sluice::engine
