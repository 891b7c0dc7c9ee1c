// The outbox's SQL: claiming due rows under a lease, recording attempt outcomes, the disabled
// state of endpoints, retention. Statement text and parameters are built here (pure); the
// publisher runs them on its own connections.
// Error policy: pure builders never throw (claim_sql and worker_statements:
// std::invalid_argument for an events table
// that is not a valid name); decode_claimed throws std::runtime_error when a row does
// not have the expected shape (a schema mismatch is broken infrastructure).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "infra/pg/async_connection.hpp"
#include "outbox/envelope.hpp"
#include "outbox/retry_policy.hpp"

namespace sluice::outbox {

// One row taken for delivery. event is nullopt when the events row no longer exists.
struct ClaimedRow {
    std::int64_t outbox_id = 0;
    std::int64_t event_id = 0;
    int attempts = 0;  // attempts made before this one
    std::string aggregate_id;
    SysTime event_timestamp{};
    std::optional<WebhookEvent> event;
    // An operational event (outbox/operational_event.hpp): the stored {"type","data"} JSON;
    // event is then nullopt (no events row) and event_id negative.
    std::optional<std::string> operational;
    // The batch it is sent in (outbox/batch.hpp), for a batched webhook; nullopt: sent alone.
    std::optional<std::int64_t> batch_id;
};

// The statements a delivery worker runs for every batch are prepared once per connection
// (parsing and planning them cost about as much as running them): claim, record, next due.
// The steps below that say "prepared" name them and need them prepared on the connection.
struct PreparedStatement {
    std::string name;
    std::string sql;
};
inline constexpr std::string_view claim_statement = "sluice_outbox_claim";
inline constexpr std::string_view record_statement = "sluice_outbox_record";
inline constexpr std::string_view next_due_statement = "sluice_outbox_next_due";
// A batched webhook (`batch:`) gets the batch claim and next-due statements of outbox/batch.hpp.
[[nodiscard]] std::vector<PreparedStatement> worker_statements(std::string_view events_table,
                                                               const config::Webhook& webhook);

// Claims up to $2 due rows of webhook $1 and leases them for $3 milliseconds by moving
// next_attempt_at forward (no transaction stays open during delivery; a crashed instance's
// leases simply expire). per_aggregate claims only the oldest pending row of each aggregate, so
// a newer event never overtakes an older one (and a leased row blocks its successors).
// Returns the rows joined with the events table (LEFT JOIN: a vanished event gives NULLs).
[[nodiscard]] std::string claim_sql(std::string_view events_table, config::Ordering ordering);
// The per_aggregate rule as an extra WHERE condition ("AND ...") on outbox row `alias`: it is the
// oldest pending row of its aggregate (the row itself included).
[[nodiscard]] std::string head_of_aggregate_condition(std::string_view alias);
// The claim's result: SELECT ... FROM claimed c LEFT JOIN the events table, the columns
// decode_claimed reads. The CTE `claimed` has, in this order: id, attempts, event_id,
// aggregate_id, event_timestamp, operational, data, batch_id, event_type.
[[nodiscard]] std::string claimed_select_sql(std::string_view events_table);
// Prepared (claim_statement). A batched webhook's `limit` counts rows, like the others'.
[[nodiscard]] pg::Step claim_step(const config::Webhook& webhook, int limit,
                                  std::chrono::milliseconds lease);
// The claimed rows in the order they are sent: those outside a batch first, then batch by
// batch; by outbox id within each.
[[nodiscard]] std::vector<ClaimedRow> decode_claimed(const pg::Result& result);

// Milliseconds until the webhook's earliest pending row that is not yet due (NULL if none); for
// a batched webhook also until a waiting group reaches max_wait. Prepared (next_due_statement).
[[nodiscard]] pg::Step next_due_step(const config::Webhook& webhook);

// What an attempt says about the endpoint's health: ok (2xx), failed (it answered otherwise or
// not at all), unknown (no request was made: the message could not be built).
enum class EndpointHealth { unknown, ok, failed };

// The outcome of one attempt, ready to be written: of one message (outbox_id), or of a batched
// request (members, its messages in the order sent), which is one attempt row for them all.
struct AttemptRecord {
    std::int64_t outbox_id = 0;
    std::vector<std::int64_t> members;
    Verdict verdict = Verdict::retry;
    std::chrono::milliseconds retry_delay{0};
    int status = 0;     // 0 = none (stored as NULL)
    std::string error;  // empty = none; free of secrets
    double duration_ms = 0;
    std::string response;  // already cut to the configured size and made storable
    EndpointHealth health = EndpointHealth::unknown;
    // The batch that carried it (a batched webhook): kept on the message, and the batch's
    // sluice.outbox_batches row (in flight) ends with this record.
    std::optional<std::int64_t> batch_id;
};

// The attempts as the JSON array the record statement reads (one object per attempt: id, or ids
// for a batched request's members, verdict, delay_ms, status, error, duration_ms, response, health,
// and batch when there is one; absent values as null).
[[nodiscard]] std::string record_batch_json(const std::vector<AttemptRecord>& records);

// The statements that record a batch of attempts (run in one transaction): one statement that
// inserts every outbox_attempts row, applies every outbox state change and keeps the endpoint's
// health in webhook_state (prepared: record_statement; its result has one row, the reason, when
// the batch disabled the endpoint after disable_after), and for a 410 also the webhook_state row
// that disables the endpoint. Disabling enqueues a sluice.endpoint.disabled operational event for
// the webhook's notify target in the same transaction. Only rows still 'pending' are changed, so
// an operator's action in the meantime is not overwritten. Empty for an empty batch.
[[nodiscard]] std::vector<pg::Step> record_steps(const config::Webhook& webhook,
                                                 const std::vector<AttemptRecord>& records);

// Gives claimed rows that were never sent back: due now, attempts unchanged; a batch in flight
// that holds any of them keeps its id and members and is due again at once.
[[nodiscard]] pg::Step release_step(const std::vector<std::int64_t>& outbox_ids);

// Whether the webhook is disabled (one row: disabled bool, reason text; no row = enabled).
[[nodiscard]] pg::Step disabled_state_step(const std::string& webhook);

// Deletes up to batch delivered rows older than retention; returns the deleted count.
[[nodiscard]] pg::Step retention_step(std::chrono::milliseconds retention, int batch);

// Per webhook: pending and dead counts (rows: webhook, pending, dead).
[[nodiscard]] std::string queue_counts_sql();

}  // namespace sluice::outbox
