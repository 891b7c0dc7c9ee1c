// `sluice verify`: the check of one subscriber (a projection, one part of a partitioned one, or a
// webhook's dispatcher) against the log, inside the caller's snapshot transaction. Matching is
// decided by the subscriber's own sink (Sink::wants, the daemon's filter on the batch path),
// asked once per (event type, aggregate type) found in the log, and for a webhook also by the
// enqueue's own condition (outbox/dispatch_sql.hpp: upcast type, filter:).
// What it proves: the matching events after the counter's start and at or below the checkpoint
// number as many as the checkpoint's applied-event counter plus the parked ones among them; for
// a webhook, also that every matching event at or below the checkpoint has an outbox row (or is
// parked), except those older than the outbox retention, whose delivered rows may be pruned.
// Error policy: pg::Error from the queries propagates; what it finds is the return value.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "engine/event_row.hpp"
#include "engine/sink.hpp"
#include "engine/upcast.hpp"
#include "infra/pg/connection.hpp"
#include "projections/partition.hpp"

namespace sluice::daemon {

// What is checked: the sink picks the events; a webhook's condition is checked with its outbox.
struct VerifyTarget {
    const engine::Sink* sink = nullptr;
    projections::Part part;                    // a projection's part; {} for a webhook
    const config::Webhook* webhook = nullptr;  // set for a webhook
    const engine::Upcast* upcast = nullptr;    // session-installed, for a webhook's condition
    std::string quoted_events_table;
    std::chrono::milliseconds outbox_retention{0};
};

// Events that should have been applied (or enqueued) and were not: in commit order, the first
// and the last, and how many. `exact`: they are these events; otherwise the range only holds
// them, among others that were applied.
struct MissingEvents {
    std::int64_t count = 0;
    std::int64_t first_id = 0;
    std::int64_t last_id = 0;
    bool exact = true;
};

struct UnitVerdict {
    std::string name;
    std::string kind;             // "projection" | "webhook"
    bool has_checkpoint = false;  // false: it has never run; nothing to verify
    engine::Position checkpoint;
    engine::Position counted_from;         // the counter counts the events after this position
    engine::Position counted;              // how far the counter followed the checkpoint unbroken
    std::int64_t matching = 0;             // matching events in (counted_from, checkpoint]
    std::int64_t applied = 0;              // the counter
    std::int64_t parked = 0;               // parked events in (counted_from, checkpoint]
    std::optional<MissingEvents> missing;  // counted events neither applied nor parked
    std::optional<MissingEvents> without_outbox;  // a webhook's matching events without a row
    // More applied than match: the filters changed since, or the checkpoint was moved back.
    bool over_counted = false;

    [[nodiscard]] bool complete() const { return !missing && !without_outbox && !over_counted; }
};

[[nodiscard]] UnitVerdict verify_unit(pg::Connection& conn, const VerifyTarget& target);

// "tx/id", as `sluice status` shows positions.
[[nodiscard]] std::string position_text(const engine::Position& p);

}  // namespace sluice::daemon
