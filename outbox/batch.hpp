// Batched delivery (a webhook's `batch:`): several messages in one request. What a batch is
// (the claim that groups due messages into batches, each a row of sluice.outbox_batches while in
// flight, its id kept in sluice.outbox.batch_id when its attempt is recorded, so every retry
// sends the same members under the same id) and what
// its request looks like (a JSON array of envelopes, one signature over the whole body).
// Pure: SQL text and request building; the worker runs and sends them.
// Error policy: batch_element throws std::invalid_argument like build_body (a payload, metadata or
// data that is not JSON); claim SQL builders throw std::invalid_argument for an events table that
// is not a valid name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "infra/pg/async_connection.hpp"
#include "outbox/envelope.hpp"

namespace sluice::outbox {

// "batch_<webhook>_<batch id>": the webhook-id of a batch request, with message_id's character
// rules; the same for every attempt of the batch.
[[nodiscard]] std::string batch_message_id(std::string_view webhook, std::int64_t batch_id);

// One element of a batch body: {"id":<the message's own webhook-id>,"type","timestamp","schema",
// "data"}, the event's envelope (build_body) with the id it would carry alone, so a receiver can
// drop duplicates per message (a replayed message arrives in another batch).
[[nodiscard]] std::string batch_element(std::string_view webhook, const WebhookEvent& event);

// [element, ...] signed as one body under webhook-id batch_message_id(). No trace context: the
// members may belong to different traces (each element's metadata still carries its own).
[[nodiscard]] Message build_batch_message(const config::Webhook& webhook, std::int64_t batch_id,
                                          const std::vector<std::string>& elements,
                                          std::int64_t now_unix_seconds);

// Claims of one batched webhook take turns: a transaction-scoped advisory lock on the webhook's
// name, run as its own statement before the claim so the claim's snapshot sees the batches the
// previous claim formed.
[[nodiscard]] pg::Step batched_claim_lock_step(const std::string& webhook);

// The claim of a batched webhook, after batched_claim_lock_step in the same transaction: $1
// webhook, $2 most rows read, $3 lease (ms), $4 max_events, $5 max_wait (ms); the same columns
// as claim_sql, batch_id last, ordered by batch. A batch in flight is one sluice.outbox_batches
// row (its members and lease) from its claim until its attempt is recorded; the claim writes
// that row and leaves the members' rows alone, so it costs one row per batch, not per message.
// It takes
// - batches in flight whose lease has passed (a crash, or handed back unsent), with the same id
//   and members (those still pending), at most $2 / $4 of them;
// - batches formed earlier and retried, whole or not at all: only when every pending member is
//   due and the head of its aggregate (per_aggregate);
// - due messages in no batch and in no batch in flight, grouped in due order into new batches
//   of max_events, numbered from sluice.outbox_batch_id; the last, smaller group only once its
//   oldest message has been due for max_wait (else it waits for more);
// - operational events alone (never batched; leased by moving next_attempt_at as claim_sql does).
// Each statement costs O(rows claimed + members in flight): new batches get their numbers as one
// array indexed by group (chunks are numbered 0.. without gaps; only the last may wait), and a
// retried batch's members are found through outbox_pending_batch for the batch ids read.
// Order: only heads of aggregates are read (claim_sql's rule; a member in flight is still
// pending, so it holds its successors back), so a batch holds at most one message per aggregate
// and a message is claimed only after its predecessor was delivered or dead, whichever request
// carried it.
[[nodiscard]] std::string batched_claim_sql(std::string_view events_table,
                                            config::Ordering ordering);

// Deletes batches in flight whose lease has passed and that hold no pending message any more
// (their members were settled another way, say by a webhook that lost `batch:` in a reload):
// nothing can send them again. Run with retention.
[[nodiscard]] pg::Step settled_batches_step();

// Milliseconds until the next row is due, a batch's lease passes or a waiting group (messages in
// no batch in flight) reaches max_wait ($1 webhook, $2 max_wait in ms); NULL when none.
[[nodiscard]] std::string batched_next_due_sql();

}  // namespace sluice::outbox
