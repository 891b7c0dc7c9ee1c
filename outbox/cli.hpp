// The queries behind `sluice outbox status|list|retry|enable`, over a blocking connection
// (command-line use only, never on the daemon's event loop). They return plain structs; the
// CLI formats them.
// Error policy: database failures throw pg::Error. Nothing here returns secrets or URLs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "infra/pg/connection.hpp"

namespace sluice::outbox {

struct WebhookQueueStatus {
    std::string webhook;
    std::int64_t pending = 0;    // all pending rows (= due + scheduled)
    std::int64_t due = 0;        // pending and due now (waiting for a worker)
    std::int64_t scheduled = 0;  // pending, not yet due: leased to a worker (in flight) or
                                 // waiting for a retry; the schema cannot tell these apart
    std::int64_t dead = 0;
    std::optional<double> oldest_pending_age_s;  // since enqueue
    std::optional<std::string> last_error;       // of the most recently failed pending/dead row
    bool disabled = false;
    std::optional<std::string> disabled_reason;
    std::optional<std::string> disabled_at;  // ISO 8601 UTC
};

// One entry per webhook that is configured (configured_webhooks, in that order) or that has
// outbox rows in any state or a webhook_state row (those follow, by name). Reads the whole
// outbox (command-line use).
[[nodiscard]] std::vector<WebhookQueueStatus> outbox_status(
    pg::Connection& conn, const std::vector<std::string>& configured_webhooks);

struct OutboxEntry {
    std::int64_t id = 0;
    std::string webhook;
    std::int64_t event_id = 0;
    std::string aggregate_id;
    std::string state;
    int attempts = 0;
    std::optional<std::string> next_attempt_at;  // ISO 8601 UTC; none unless pending
    std::string enqueued_at;
    std::optional<std::string> delivered_at;
    std::optional<std::string> last_error;
};

struct ListFilter {
    std::optional<std::string> webhook;
    std::optional<std::string> state;  // pending | delivered | dead
    int limit = 100;
};

// Oldest first (by id).
[[nodiscard]] std::vector<OutboxEntry> outbox_list(pg::Connection& conn, const ListFilter& filter);

// Every webhook the database knows of (with outbox rows or a webhook_state row), by name.
[[nodiscard]] std::vector<std::string> known_webhooks(pg::Connection& conn);

// What retry_ids did: when an id is unknown, or delivered without `delivered_too`, nothing
// changed and those ids are listed.
struct RetryOutcome {
    std::int64_t requeued = 0;
    std::vector<std::int64_t> unknown;
    std::vector<std::int64_t> delivered;
};

// Makes rows pending again, due now, with attempts reset. The row (and so its webhook-id) is
// kept. Re-sending a delivered row takes `delivered_too`. All or nothing.
[[nodiscard]] RetryOutcome retry_ids(pg::Connection& conn, const std::vector<std::int64_t>& ids,
                                     bool delivered_too = false);
// Returns how many rows changed.
std::int64_t retry_webhook(pg::Connection& conn, const std::string& webhook,
                           const std::string& state = "dead");

// Clears the disabled state (and the failing_since of disable_after, so the clock starts over)
// and tells running publishers (NOTIFY sluice_outbox with payload 'webhook_state'), which resume
// delivery at once; returns whether the webhook was disabled. When it was and `notify` names a
// webhook, a sluice.endpoint.enabled operational event for it is enqueued in the same
// transaction.
bool enable(pg::Connection& conn, const std::string& webhook,
            const std::optional<std::string>& notify = std::nullopt);

}  // namespace sluice::outbox
