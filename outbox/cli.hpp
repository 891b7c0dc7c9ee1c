// The queries behind `sluice outbox status|list|show|retry|replay|enable`, over a blocking
// connection (command-line use only, never on the daemon's event loop). They return plain structs;
// the CLI formats them. Error policy: database failures throw pg::Error. Nothing here returns
// secrets or URLs.
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
    std::optional<std::string> event_type;  // none when the event left the events table
    std::optional<std::int64_t> version;
    std::optional<std::int64_t> batch_id;  // the batch it was (last) claimed into, if any
};

// The message's own webhook-id (msg_..., or op_... for an operational event), and the webhook-id
// of the batch request that carries it (batch_...; none when it is sent alone).
[[nodiscard]] std::string own_message_id(const OutboxEntry& entry);
[[nodiscard]] std::optional<std::string> batch_request_id(const OutboxEntry& entry);

// A window of time as the server reads it: each bound is a timestamptz text, or none for open.
struct TimeWindow {
    std::optional<std::string> since;  // inclusive
    std::optional<std::string> until;  // exclusive
};

struct ListFilter {
    std::optional<std::string> webhook;
    std::optional<std::string> state;  // pending | delivered | dead
    TimeWindow enqueued;               // when the message was enqueued
    std::optional<std::string> event_type;
    int limit = 100;
};

// Oldest first (by id). `quoted_events_table` gives each message its event's type and version.
[[nodiscard]] std::vector<OutboxEntry> outbox_list(pg::Connection& conn, const ListFilter& filter,
                                                   const std::string& quoted_events_table);

// One attempt of a message, as recorded (sluice.outbox_attempts).
struct Attempt {
    std::string attempted_at;  // ISO 8601 UTC
    std::optional<int> status;
    std::optional<std::string> error;
    double duration_ms = 0;
    std::optional<std::string> response;  // the start of the response body, as stored
};

struct MessageHistory {
    OutboxEntry message;
    std::vector<Attempt> attempts;  // oldest first
};

// The message with `id` and its attempts; none when there is no such message.
[[nodiscard]] std::optional<MessageHistory> outbox_show(pg::Connection& conn, std::int64_t id,
                                                        const std::string& quoted_events_table);

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

struct ReplayFilter {
    std::string webhook;
    TimeWindow settled;  // when the message was delivered, or (dead) last attempted
    std::optional<std::string> event_type;
};

struct ReplayOutcome {
    std::int64_t delivered = 0;  // of the messages chosen, how many had been delivered
    std::int64_t dead = 0;       // and how many were dead
};

// Makes the webhook's delivered and dead messages settled in the window pending again, due now,
// with their attempts count reset (their recorded attempts stay); same row, same webhook-id,
// same body. With `dry_run`, only counts them. All or nothing.
[[nodiscard]] ReplayOutcome replay(pg::Connection& conn, const ReplayFilter& filter,
                                   const std::string& quoted_events_table, bool dry_run);

// Clears the disabled state (and the failing_since of disable_after, so the clock starts over)
// and tells running publishers (NOTIFY sluice_outbox with payload 'webhook_state'), which resume
// delivery at once; returns whether the webhook was disabled. When it was and `notify` names a
// webhook, a sluice.endpoint.enabled operational event for it is enqueued in the same
// transaction.
bool enable(pg::Connection& conn, const std::string& webhook,
            const std::optional<std::string>& notify = std::nullopt);

}  // namespace sluice::outbox
