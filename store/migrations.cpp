#include "store/migrations.hpp"

#include "infra/pg/literal.hpp"
#include "store/sessions.hpp"

namespace sluice::store {
namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
    return s;
}

// The sluice schema: checkpoints, parked events, the outbox and instance ownership.
const char* core_sql = R"SQL(
CREATE TABLE IF NOT EXISTS sluice.checkpoints (
  name text PRIMARY KEY,
  transaction_id xid8 NOT NULL DEFAULT '0',
  event_id bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now());

-- Moves a checkpoint only from the position the caller last saw, so two writers racing on
-- one subscriber can never both advance it. Runs in the same transaction as the handler work.
CREATE OR REPLACE FUNCTION sluice.advance_checkpoint(
    p_name text, p_old_tx xid8, p_old_id bigint, p_new_tx xid8, p_new_id bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE sluice.checkpoints
     SET transaction_id = p_new_tx, event_id = p_new_id, updated_at = now()
   WHERE name = p_name AND transaction_id = p_old_tx AND event_id = p_old_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'checkpoint of % is no longer at (%, %): another writer moved it',
      p_name, p_old_tx, p_old_id USING ERRCODE = 'SL001';
  END IF;
END $fn$;

CREATE TABLE IF NOT EXISTS sluice.parked_events (
  subscriber text NOT NULL,
  event_id bigint NOT NULL,
  transaction_id xid8 NOT NULL,
  error text NOT NULL,
  sqlstate text,
  parked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subscriber, event_id));

CREATE TABLE IF NOT EXISTS sluice.outbox (
  id bigserial PRIMARY KEY,
  webhook text NOT NULL,
  event_id bigint NOT NULL,
  aggregate_id uuid NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  enqueued_at timestamptz NOT NULL DEFAULT now(),
  event_timestamp timestamptz NOT NULL,
  delivered_at timestamptz,
  last_error text,
  UNIQUE (webhook, event_id));
CREATE INDEX IF NOT EXISTS outbox_due ON sluice.outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_delivered ON sluice.outbox (delivered_at)
  WHERE state = 'delivered';

CREATE TABLE IF NOT EXISTS sluice.outbox_attempts (
  outbox_id bigint NOT NULL REFERENCES sluice.outbox(id) ON DELETE CASCADE,
  attempted_at timestamptz NOT NULL DEFAULT now(),
  status int,
  error text,
  duration_ms double precision NOT NULL,
  response text);
CREATE INDEX IF NOT EXISTS outbox_attempts_outbox ON sluice.outbox_attempts (outbox_id);

CREATE TABLE IF NOT EXISTS sluice.webhook_state (
  webhook text PRIMARY KEY,
  disabled_at timestamptz,
  disabled_reason text);

CREATE OR REPLACE FUNCTION sluice.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify({{outbox_channel}}, '');
  RETURN NULL;
END $fn$;
DROP TRIGGER IF EXISTS sluice_notify_outbox ON sluice.outbox;
CREATE TRIGGER sluice_notify_outbox AFTER INSERT ON sluice.outbox
  FOR EACH STATEMENT EXECUTE FUNCTION sluice.notify_outbox();

CREATE TABLE IF NOT EXISTS sluice.owners (
  name text PRIMARY KEY,
  instance_id text NOT NULL,
  host text NOT NULL,
  pid int NOT NULL,
  since timestamptz NOT NULL DEFAULT now(),
  heartbeat timestamptz NOT NULL DEFAULT now());

CREATE OR REPLACE FUNCTION sluice.notify_events() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify(TG_ARGV[0], '');
  RETURN NULL;
END $fn$;
)SQL";

// One writer per subscriber: every batch transaction takes the subscriber's transaction-level
// advisory lock; `sluice rebuild` holds the session-level one while it replays, so the daemon's
// batches for that subscriber wait (SQLSTATE SL002) and the others carry on.
const char* subscriber_lock_sql = R"SQL(
CREATE OR REPLACE FUNCTION sluice.subscriber_lock_key(p_name text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $fn$ SELECT hashtextextended('sluice.subscriber:' || p_name, 0) $fn$;

-- The first statement of every batch: takes the subscriber, and checks (and row-locks) its
-- checkpoint before any handler runs, so a batch read from a stale position never applies.
CREATE OR REPLACE FUNCTION sluice.begin_batch(p_name text, p_tx xid8, p_id bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF NOT pg_try_advisory_xact_lock(sluice.subscriber_lock_key(p_name)) THEN
    RAISE EXCEPTION '% is being written by another session (a rebuild?)', p_name
      USING ERRCODE = 'SL002';
  END IF;
  PERFORM 1 FROM sluice.checkpoints
    WHERE name = p_name AND transaction_id = p_tx AND event_id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'checkpoint of % is no longer at (%, %): another writer moved it',
      p_name, p_tx, p_id USING ERRCODE = 'SL001';
  END IF;
END $fn$;
)SQL";

// The publisher claims the oldest pending row per (webhook, aggregate) and counts dead rows.
const char* outbox_indexes_sql = R"SQL(
CREATE INDEX IF NOT EXISTS outbox_pending_by_aggregate
  ON sluice.outbox (webhook, aggregate_id, event_id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_dead ON sluice.outbox (webhook) WHERE state = 'dead';
)SQL";

// Several instances: each registers itself and holds a session advisory lock on its own key
// (alive = lock held and heartbeat fresh); each unit of work (a subscriber, or one part of a
// partitioned projection) is owned through a session advisory lock and an owners row. The row
// is the fencing token: every batch checks it in its own transaction (sluice.check_owner), so
// an instance that lost a unit (a dead connection, a transaction-pooling proxy) cannot commit.
const char* ownership_sql = R"SQL(
CREATE TABLE IF NOT EXISTS sluice.instances (
  instance_id text PRIMARY KEY,
  host text NOT NULL,
  pid int NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat timestamptz NOT NULL DEFAULT now(),
  lock_key bigint NOT NULL);

ALTER TABLE sluice.owners ADD COLUMN IF NOT EXISTS backend_pid int;

CREATE OR REPLACE FUNCTION sluice.owner_lock_key(p_name text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $fn$ SELECT hashtextextended('sluice.owner:' || p_name, 0) $fn$;

CREATE OR REPLACE FUNCTION sluice.instance_lock_key(p_instance text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $fn$ SELECT hashtextextended('sluice.instance:' || p_instance, 0) $fn$;

-- The backend holding a session advisory lock on key, or NULL when it is free.
CREATE OR REPLACE FUNCTION sluice.advisory_holder(p_key bigint) RETURNS int
LANGUAGE sql STABLE AS $fn$
  SELECT l.pid FROM pg_locks l
   WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND l.classid::bigint = ((p_key >> 32) & 4294967295)
     AND l.objid::bigint = (p_key & 4294967295)
   LIMIT 1
$fn$;

-- Takes a unit for an instance: the lock first, then the row. False when another session holds
-- the lock, or when a batch of the former owner still holds the row (try again on a later tick
-- rather than wait: the caller's heartbeats must not stall).
CREATE OR REPLACE FUNCTION sluice.acquire_owner(p_name text, p_instance text, p_host text,
                                                p_pid int) RETURNS boolean
LANGUAGE plpgsql AS $fn$
BEGIN
  IF NOT pg_try_advisory_lock(sluice.owner_lock_key(p_name)) THEN
    RETURN false;
  END IF;
  BEGIN
    PERFORM 1 FROM sluice.owners WHERE name = p_name FOR UPDATE NOWAIT;
  EXCEPTION WHEN lock_not_available THEN
    PERFORM pg_advisory_unlock(sluice.owner_lock_key(p_name));
    RETURN false;
  END;
  INSERT INTO sluice.owners AS o (name, instance_id, host, pid, backend_pid)
    VALUES (p_name, p_instance, p_host, p_pid, pg_backend_pid())
    ON CONFLICT (name) DO UPDATE
      SET instance_id = EXCLUDED.instance_id, host = EXCLUDED.host, pid = EXCLUDED.pid,
          backend_pid = EXCLUDED.backend_pid, since = now(), heartbeat = now();
  RETURN true;
END $fn$;

-- Lets a unit go: the row (when still ours) and the lock.
CREATE OR REPLACE FUNCTION sluice.release_owner(p_name text, p_instance text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM sluice.owners WHERE name = p_name AND instance_id = p_instance;
  IF sluice.advisory_holder(sluice.owner_lock_key(p_name)) = pg_backend_pid() THEN
    PERFORM pg_advisory_unlock(sluice.owner_lock_key(p_name));
  END IF;
END $fn$;

-- The fencing check, first in every batch transaction of an owned unit.
CREATE OR REPLACE FUNCTION sluice.check_owner(p_name text, p_instance text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM sluice.owners WHERE name = p_name AND instance_id = p_instance FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION '% is no longer owned by instance %', p_name, p_instance
      USING ERRCODE = 'SL003';
  END IF;
END $fn$;
)SQL";

// The publisher claims a webhook's due rows in (next_attempt_at, id) order: this index serves
// that order directly, so a claim reads only the rows it takes (outbox_due made it sort every
// pending row, and rows enqueued by one statement share one next_attempt_at). It replaces
// outbox_due, which nothing reads any more and every lease update had to maintain.
const char* outbox_claim_index_sql = R"SQL(
CREATE INDEX IF NOT EXISTS outbox_pending_due
  ON sluice.outbox (webhook, next_attempt_at, id) WHERE state = 'pending';
DROP INDEX IF EXISTS sluice.outbox_due;
)SQL";

// A webhook's `body:` result, computed in the dispatcher's transaction and sent as the
// envelope's `data`; NULL for webhooks without one (the event itself is sent).
const char* outbox_data_sql = R"SQL(
ALTER TABLE sluice.outbox ADD COLUMN IF NOT EXISTS data jsonb;
)SQL";

// The event type a webhook saw after upcasters, when an upcaster renamed the event; the
// envelope's `type` is this one. NULL: the stored type.
const char* outbox_event_type_sql = R"SQL(
ALTER TABLE sluice.outbox ADD COLUMN IF NOT EXISTS event_type text;
)SQL";

// Batched delivery (a webhook's `batch:`): the batch a message was claimed into, fixed before
// its first attempt so every retry sends the same members under the same webhook-id; NULL for a
// message sent alone. Numbered from a sequence. The partial index finds a batch's pending
// members (only those of batches not yet delivered are in it).
const char* outbox_batches_sql = R"SQL(
ALTER TABLE sluice.outbox ADD COLUMN IF NOT EXISTS batch_id bigint;
CREATE SEQUENCE IF NOT EXISTS sluice.outbox_batch_id;
CREATE INDEX IF NOT EXISTS outbox_pending_batch ON sluice.outbox (batch_id)
  WHERE state = 'pending' AND batch_id IS NOT NULL;
)SQL";

// The event horizon: reading only below it, no committed event is ever skipped. It is the
// oldest transaction in progress, like pg_snapshot_xmin, except that the transactions of
// sluice's own event-free sessions (coordination heartbeats, webhook enqueues, outbox delivery)
// are looked past, so they never hold an event back. That is safe because such a session cannot
// write events: the events trigger refuses it (SQLSTATE SL004). STABLE, so it sees the calling
// statement's snapshot; PL/pgSQL, so its query is planned once per session, not per call.
// Sessions of other roles show no backend_xid and count as writers.
const char* event_horizon_sql = R"SQL(
CREATE OR REPLACE FUNCTION sluice.writes_no_events(p_application_name text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT coalesce(p_application_name IN ({{event_free_sessions}})
                  OR starts_with(p_application_name, {{webhook_prefix}}), false)
$fn$;

CREATE OR REPLACE FUNCTION sluice.event_horizon() RETURNS xid8 LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  s pg_snapshot := pg_current_snapshot();
  oldest xid8;
BEGIN
  IF pg_snapshot_xmin(s) = pg_snapshot_xmax(s) THEN
    RETURN pg_snapshot_xmax(s);  -- nothing in progress: the common case, no catalog read
  END IF;
  SELECT min(x) INTO oldest FROM pg_snapshot_xip(s) AS x
   WHERE xid(x) NOT IN (SELECT a.backend_xid FROM pg_stat_get_activity(NULL) AS a
                         WHERE a.backend_xid IS NOT NULL
                           AND sluice.writes_no_events(a.application_name));
  RETURN coalesce(oldest, pg_snapshot_xmax(s));
END $fn$;

CREATE OR REPLACE FUNCTION sluice.notify_events() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF sluice.writes_no_events(current_setting('application_name')) THEN
    RAISE EXCEPTION 'a session named "%" may not write events', current_setting('application_name')
      USING ERRCODE = 'SL004',
            HINT = 'sluice reads past the open transactions of the sessions it names so; '
                   'a rebuild or rollback replays events applied before, whose handlers must not '
                   'append them again; any other session: give it another application_name';
  END IF;
  PERFORM pg_notify(TG_ARGV[0], '');
  RETURN NULL;
END $fn$;
)SQL";

// The part of a partitioned projection an event belongs to (projections/partition.hpp: the
// first 32 bits of md5(aggregate_id::text), mod the part count; the C++ part_of agrees).
// IMMUTABLE, so that an index can be built on it: the part index (projections/part_index.hpp)
// lets a part read only its own events, in commit order. Never change the body: every such
// index and every part's checkpoint rests on it. An inlinable SQL function, so a query's
// expression matches the index's.
const char* event_part_sql = R"SQL(
CREATE OR REPLACE FUNCTION sluice.event_part(p_aggregate_id uuid, p_parts int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT (('x' || left(md5(p_aggregate_id::text), 8))::bit(32)::bigint % p_parts)::int
$fn$;
)SQL";

// Leases, for database.pooling: transaction, where no session lock can hold: a unit is owned by
// its owners row alone while the owner renews its heartbeat (every coordination tick); a row
// silent for the lease time is free for another instance to take. Every takeover draws a new
// fencing token, and a runner presents "instance#token" to sluice.check_owner in every batch,
// so a former holder's batch can never commit once the unit was taken over, whether or not the
// former holder noticed. Taking a row a batch holds (FOR KEY SHARE) waits for a later tick.
const char* leases_sql = R"SQL(
CREATE SEQUENCE IF NOT EXISTS sluice.owner_tokens;
ALTER TABLE sluice.owners
  ADD COLUMN IF NOT EXISTS token bigint NOT NULL DEFAULT nextval('sluice.owner_tokens');

-- The token of the lease taken, or NULL: another instance holds a live lease, or one of the
-- holder's batches holds the row right now.
CREATE OR REPLACE FUNCTION sluice.acquire_lease(p_name text, p_instance text, p_host text,
                                                p_pid int, p_lease interval) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  taken bigint;
BEGIN
  BEGIN
    PERFORM 1 FROM sluice.owners WHERE name = p_name FOR UPDATE NOWAIT;
  EXCEPTION WHEN lock_not_available THEN
    RETURN NULL;
  END;
  INSERT INTO sluice.owners AS o (name, instance_id, host, pid, backend_pid)
    VALUES (p_name, p_instance, p_host, p_pid, NULL)
    ON CONFLICT (name) DO UPDATE
      SET instance_id = EXCLUDED.instance_id, host = EXCLUDED.host, pid = EXCLUDED.pid,
          backend_pid = NULL, token = nextval('sluice.owner_tokens'), since = now(),
          heartbeat = now()
      WHERE o.instance_id = p_instance OR o.heartbeat < now() - p_lease
    RETURNING o.token INTO taken;
  RETURN taken;
END $fn$;

-- The fencing check, first in every batch transaction of an owned unit. p_instance is what the
-- runner presents: its instance id (the unit is held by a session lock besides), or with
-- leases "instance#token", which only the lease's current holder knows.
CREATE OR REPLACE FUNCTION sluice.check_owner(p_name text, p_instance text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM sluice.owners
    WHERE name = p_name
      AND (instance_id = p_instance OR instance_id || '#' || token = p_instance)
    FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION '% is no longer owned by %', p_name, p_instance USING ERRCODE = 'SL003';
  END IF;
END $fn$;

-- As in version 6, and a takeover draws a new token here too.
CREATE OR REPLACE FUNCTION sluice.acquire_owner(p_name text, p_instance text, p_host text,
                                                p_pid int) RETURNS boolean
LANGUAGE plpgsql AS $fn$
BEGIN
  IF NOT pg_try_advisory_lock(sluice.owner_lock_key(p_name)) THEN
    RETURN false;
  END IF;
  BEGIN
    PERFORM 1 FROM sluice.owners WHERE name = p_name FOR UPDATE NOWAIT;
  EXCEPTION WHEN lock_not_available THEN
    PERFORM pg_advisory_unlock(sluice.owner_lock_key(p_name));
    RETURN false;
  END;
  INSERT INTO sluice.owners AS o (name, instance_id, host, pid, backend_pid)
    VALUES (p_name, p_instance, p_host, p_pid, pg_backend_pid())
    ON CONFLICT (name) DO UPDATE
      SET instance_id = EXCLUDED.instance_id, host = EXCLUDED.host, pid = EXCLUDED.pid,
          backend_pid = EXCLUDED.backend_pid, token = nextval('sluice.owner_tokens'),
          since = now(), heartbeat = now();
  RETURN true;
END $fn$;
)SQL";

// The seed's events table, created only when absent (BIGSERIAL id), with its two indexes.
const char* events_table_sql = R"SQL(
DO $do$
BEGIN
  IF to_regclass({{events_literal}}) IS NULL THEN
    CREATE TABLE {{events}} (
      id BIGSERIAL PRIMARY KEY,
      aggregate_id UUID NOT NULL,
      aggregate_type VARCHAR(255) NOT NULL,
      version INT NOT NULL,
      event_type VARCHAR(255) NOT NULL,
      payload JSONB NOT NULL,
      timestamp TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
      metadata JSONB,
      UNIQUE (aggregate_id, version));
    CREATE INDEX idx_{{base}}_aggregate_id ON {{events}} (aggregate_id);
    CREATE INDEX idx_{{base}}_timestamp ON {{events}} (timestamp);
  END IF;
END $do$;
)SQL";

// What sluice adds to any seed-shaped table: the committing transaction of every row (read in
// commit order, not id order), an index to read by it, and one NOTIFY per INSERT statement.
const char* events_additions_sql = R"SQL(
ALTER TABLE {{events}}
  ADD COLUMN IF NOT EXISTS transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX IF NOT EXISTS {{base}}_sluice_position_idx ON {{events}} (transaction_id, id);
DROP TRIGGER IF EXISTS sluice_notify ON {{events}};
CREATE TRIGGER sluice_notify AFTER INSERT ON {{events}}
  FOR EACH STATEMENT EXECUTE FUNCTION sluice.notify_events({{channel}});
)SQL";

// Endpoint health: since when an endpoint has been failing without a success (auto-disable after
// disable_after, surviving restarts), and operational events as outbox rows without an events
// row (outbox/operational_event.hpp). Both columns are nullable without a default, so adding them
// rewrites nothing.
const char* endpoint_health_sql = R"SQL(
ALTER TABLE sluice.webhook_state ADD COLUMN IF NOT EXISTS failing_since timestamptz;
ALTER TABLE sluice.outbox ADD COLUMN IF NOT EXISTS operational jsonb;
CREATE SEQUENCE IF NOT EXISTS sluice.operational_event_id;
)SQL";

// Aggregate snapshots (docs/schema.md, "Snapshots"): the table the snapshot subscribers fill,
// the fingerprint each of them last ran with, and the one entry point any client calls. The
// per-type fold functions it dispatches to are installed by the daemon from the config.
const char* snapshots_sql = R"SQL(
CREATE TABLE IF NOT EXISTS sluice.snapshots (
  aggregate_id uuid NOT NULL,
  aggregate_type text NOT NULL,
  version bigint NOT NULL,
  state jsonb,
  fingerprint text NOT NULL,
  taken_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (aggregate_id, version));

CREATE TABLE IF NOT EXISTS sluice.snapshot_subscribers (
  name text PRIMARY KEY,
  aggregate_type text NOT NULL,
  fingerprint text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now());

CREATE OR REPLACE FUNCTION sluice.aggregate_state(
    p_aggregate_type text, p_aggregate_id uuid, p_as_of timestamptz DEFAULT NULL,
    OUT version bigint, OUT state jsonb)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  fold text := format('sluice.%I', 'fold_' || p_aggregate_type);
BEGIN
  IF to_regprocedure(fold || '(uuid, timestamptz, bigint)') IS NULL THEN
    RAISE EXCEPTION 'no fold for aggregate type %', p_aggregate_type
      USING ERRCODE = 'SL012',
            HINT = 'configure snapshots: for it and run sluice once (it installs the fold)';
  END IF;
  EXECUTE format('SELECT f.version, f.state FROM %s($1, $2) f', fold)
     INTO version, state USING p_aggregate_id, p_as_of;
END $fn$;
)SQL";

// Upcasters (docs/schema.md, "Upcast functions"): the upcasters each projection's read model
// was built through, as a fingerprint of those that may change an event it handles ('' for
// none). A projection whose config says otherwise has to be rebuilt before it goes on.
const char* projection_upcasters_sql = R"SQL(
CREATE TABLE IF NOT EXISTS sluice.projection_upcasters (
  projection text PRIMARY KEY,
  fingerprint text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now());
)SQL";

// The applied-event counter that `sluice verify` compares with a count over the log
// (docs/operations.md, "Verifying completeness"). applied_events counts the events a subscriber's
// sink was given after (counted_from_tx, counted_from_id); counted_tx/counted_id is how far the
// counter followed the checkpoint without a break: advance_checkpoint moves it along only from
// where it stands, so a checkpoint moved any other way (an UPDATE by hand, a restore) leaves it
// behind, at the start of what was skipped. Rows from before start counting at their
// checkpoint: what they applied before is unknown; so does a row that a sluice from before this
// migration (a rolling upgrade) moves with the five-argument advance_checkpoint. Adding NOT NULL
// columns with constant defaults rewrites nothing.
const char* applied_counter_sql = R"SQL(
ALTER TABLE sluice.checkpoints
  ADD COLUMN IF NOT EXISTS applied_events bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS counted_from_tx xid8 NOT NULL DEFAULT '0',
  ADD COLUMN IF NOT EXISTS counted_from_id bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS counted_tx xid8 NOT NULL DEFAULT '0',
  ADD COLUMN IF NOT EXISTS counted_id bigint NOT NULL DEFAULT 0;
UPDATE sluice.checkpoints
   SET counted_from_tx = transaction_id, counted_from_id = event_id,
       counted_tx = transaction_id, counted_id = event_id;

-- The five-argument form, which a sluice from before this migration calls: it cannot say how
-- many events it applied, so the count starts again after the new position.
CREATE OR REPLACE FUNCTION sluice.advance_checkpoint(
    p_name text, p_old_tx xid8, p_old_id bigint, p_new_tx xid8, p_new_id bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE sluice.checkpoints
     SET transaction_id = p_new_tx, event_id = p_new_id, updated_at = now(), applied_events = 0,
         counted_from_tx = p_new_tx, counted_from_id = p_new_id,
         counted_tx = p_new_tx, counted_id = p_new_id
   WHERE name = p_name AND transaction_id = p_old_tx AND event_id = p_old_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'checkpoint of % is no longer at (%, %): another writer moved it',
      p_name, p_old_tx, p_old_id USING ERRCODE = 'SL001';
  END IF;
END $fn$;

-- Moves the checkpoint as the five-argument one did, and counts the p_applied events the batch
-- applied.
CREATE OR REPLACE FUNCTION sluice.advance_checkpoint(
    p_name text, p_old_tx xid8, p_old_id bigint, p_new_tx xid8, p_new_id bigint,
    p_applied bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE sluice.checkpoints c
     SET transaction_id = p_new_tx, event_id = p_new_id, updated_at = now(),
         applied_events = c.applied_events + p_applied,
         counted_tx = CASE WHEN (c.counted_tx, c.counted_id) = (p_old_tx, p_old_id)
                           THEN p_new_tx ELSE c.counted_tx END,
         counted_id = CASE WHEN (c.counted_tx, c.counted_id) = (p_old_tx, p_old_id)
                           THEN p_new_id ELSE c.counted_id END
   WHERE name = p_name AND transaction_id = p_old_tx AND event_id = p_old_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'checkpoint of % is no longer at (%, %): another writer moved it',
      p_name, p_old_tx, p_old_id USING ERRCODE = 'SL001';
  END IF;
END $fn$;

-- Puts a checkpoint at a position (a rebuild's start, a part's hand-over, a snapshot
-- subscriber's new fold) with its counter starting there.
CREATE OR REPLACE FUNCTION sluice.reset_checkpoint(p_name text, p_tx xid8, p_id bigint)
RETURNS void LANGUAGE sql AS $fn$
  INSERT INTO sluice.checkpoints AS c (name, transaction_id, event_id, applied_events,
                                       counted_from_tx, counted_from_id, counted_tx, counted_id)
  VALUES (p_name, p_tx, p_id, 0, p_tx, p_id, p_tx, p_id)
  ON CONFLICT (name) DO UPDATE
    SET transaction_id = p_tx, event_id = p_id, updated_at = now(), applied_events = 0,
        counted_from_tx = p_tx, counted_from_id = p_id, counted_tx = p_tx, counted_id = p_id
$fn$;

-- A parked event applied by `sluice parked retry`, in its transaction: counted when it lies in
-- the counted stretch (one parked before the counter started was never counted as parked).
CREATE OR REPLACE FUNCTION sluice.count_unparked(p_name text, p_tx xid8, p_id bigint)
RETURNS void LANGUAGE sql AS $fn$
  UPDATE sluice.checkpoints SET applied_events = applied_events + 1
   WHERE name = p_name AND (counted_from_tx, counted_from_id) < (p_tx, p_id)
     AND (p_tx, p_id) <= (transaction_id, event_id)
$fn$;
)SQL";

// Quarantine (a projection's `on_error.then: quarantine`, docs/operations.md, "Quarantined
// aggregates"): a parked event keeps its aggregate and version, and `quarantine` marks the rows
// that hold their aggregate back. The apply and catch-up functions call
// sluice.park_if_quarantined for each event while the subscriber has such rows, so an event
// behind a quarantined one of its aggregate is parked, not applied, in the transaction that
// moves the checkpoint past it. Only an earlier version holds an event back: a retry, which
// deletes the parked row of the event it applies first, releases an aggregate one event at a
// time, in order. The callers count every event they are given in the checkpoint's
// applied-event counter (migration 17); one parked here was not applied, so it is taken off.
const char* quarantine_sql = R"SQL(
ALTER TABLE sluice.parked_events
  ADD COLUMN IF NOT EXISTS aggregate_type text,
  ADD COLUMN IF NOT EXISTS aggregate_id uuid,
  ADD COLUMN IF NOT EXISTS version bigint,
  ADD COLUMN IF NOT EXISTS quarantine boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS parked_events_quarantine
  ON sluice.parked_events (subscriber, aggregate_id, aggregate_type, version) WHERE quarantine;

CREATE OR REPLACE FUNCTION sluice.park_if_quarantined(
    p_subscriber text, p_event_id bigint, p_tx xid8, p_aggregate_type text,
    p_aggregate_id uuid, p_version bigint)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  head bigint;
BEGIN
  SELECT q.event_id INTO head FROM sluice.parked_events q
   WHERE q.subscriber = p_subscriber AND q.quarantine AND q.aggregate_id = p_aggregate_id
     AND q.aggregate_type = p_aggregate_type AND q.version < p_version
   ORDER BY q.version LIMIT 1;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  INSERT INTO sluice.parked_events (subscriber, event_id, transaction_id, error, aggregate_type,
                                    aggregate_id, version, quarantine)
  VALUES (p_subscriber, p_event_id, p_tx, 'quarantined behind event ' || head, p_aggregate_type,
          p_aggregate_id, p_version, true)
  ON CONFLICT (subscriber, event_id) DO NOTHING;
  UPDATE sluice.checkpoints SET applied_events = applied_events - 1
   WHERE name = p_subscriber AND (counted_from_tx, counted_from_id) < (p_tx, p_event_id);
  RETURN true;
END $fn$;
)SQL";

// Blue/green rebuilds (docs/operations.md, "Changing a projection"): the phase the command that
// rebuilds or rolls back a projection is in, and its session, so that status tells a running
// rebuild from one that was interrupted (store/rebuilds.hpp).
const char* rebuilds_sql = R"SQL(
CREATE TABLE IF NOT EXISTS sluice.rebuilds (
  projection text PRIMARY KEY,
  command text NOT NULL,
  phase text NOT NULL,
  backend_pid integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now());
)SQL";

// Rebuilds asked of the running daemons (docs/operations.md, "Changing a projection"): a row in
// phase 'requested' is a rebuild that an instance takes as a unit of work and runs; its progress
// (events replayed of those to replay) and how it ended ('done', 'failed', 'verify_failed', with
// the error) stay visible to status until the next request (store/rebuilds.hpp).
const char* rebuild_requests_sql = R"SQL(
ALTER TABLE sluice.rebuilds ALTER COLUMN backend_pid DROP NOT NULL;
ALTER TABLE sluice.rebuilds
  ADD COLUMN IF NOT EXISTS reason text NOT NULL DEFAULT '',
  ADD COLUMN IF NOT EXISTS instance text,
  ADD COLUMN IF NOT EXISTS done bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS total bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS error text;
)SQL";

// The definition each projection's read model was built by (store/definitions.hpp): a
// fingerprint over what decides its content and the hash of each part of it, so that the daemon
// can say which parts of a projection changed since (docs/operations.md, "Changing a
// projection"). Keyed by projection name: the parts of a partitioned one share its row.
const char* projection_definitions_sql = R"SQL(
CREATE TABLE IF NOT EXISTS sluice.projection_definitions (
  projection text PRIMARY KEY,
  fingerprint text NOT NULL,
  parts jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now());
)SQL";

// Batches in flight (outbox/batch.hpp): a claimed batch is one row here, its members and lease,
// from its claim until its attempt is recorded, so a claim writes one row per batch rather than
// one per message. Claims of one webhook are serialised by an advisory lock instead of row locks.
// And attempts without the foreign key that checked every one of them.
const char* outbox_batches_in_flight_sql = R"SQL(
CREATE TABLE IF NOT EXISTS sluice.outbox_batches (
  id bigint PRIMARY KEY,
  webhook text NOT NULL,
  members bigint[] NOT NULL,
  leased_until timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_batches_webhook ON sluice.outbox_batches (webhook);

-- An attempt row's foreign key cost more than the row itself (a locking look-up of the message
-- per attempt). Deleting messages still deletes their attempts: one statement-level trigger per
-- DELETE instead of one check per attempt.
ALTER TABLE sluice.outbox_attempts DROP CONSTRAINT IF EXISTS outbox_attempts_outbox_id_fkey;
CREATE OR REPLACE FUNCTION sluice.delete_outbox_attempts() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM sluice.outbox_attempts a USING gone g WHERE a.outbox_id = g.id;
  RETURN NULL;
END $fn$;
DROP TRIGGER IF EXISTS sluice_delete_outbox_attempts ON sluice.outbox;
CREATE TRIGGER sluice_delete_outbox_attempts AFTER DELETE ON sluice.outbox
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
  EXECUTE FUNCTION sluice.delete_outbox_attempts();
)SQL";

// One attempt row per batched request rather than per member: a batch's attempt names its
// members (outbox_id NULL), found through the GIN index by any of them. Deleting messages deletes
// a batch's attempts once none of its members is left.
const char* outbox_batch_attempts_sql = R"SQL(
ALTER TABLE sluice.outbox_attempts ALTER COLUMN outbox_id DROP NOT NULL;
ALTER TABLE sluice.outbox_attempts ADD COLUMN IF NOT EXISTS members bigint[];
ALTER TABLE sluice.outbox_attempts ADD CONSTRAINT outbox_attempts_one_subject
  CHECK ((outbox_id IS NULL) <> (members IS NULL)) NOT VALID;
CREATE INDEX IF NOT EXISTS outbox_attempts_members ON sluice.outbox_attempts USING gin (members)
  WHERE members IS NOT NULL;
-- The messages of a batched request, for the record's join by id. A plain unnest() there is
-- estimated at ten rows per request, which can make a hash join over every pending row look
-- cheaper than looking each message up by its key. Declared one row per call and kept from being
-- inlined (a SET clause does that), the join is sized as for unbatched records.
CREATE OR REPLACE FUNCTION sluice.request_members(p_ids bigint[]) RETURNS SETOF bigint
LANGUAGE sql IMMUTABLE STRICT ROWS 1 SET search_path = pg_catalog AS $fn$ SELECT unnest(p_ids) $fn$;
CREATE OR REPLACE FUNCTION sluice.delete_outbox_attempts() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM sluice.outbox_attempts a USING gone g WHERE a.outbox_id = g.id;
  DELETE FROM sluice.outbox_attempts a
   WHERE a.members && ARRAY(SELECT g.id FROM gone g)
     AND NOT EXISTS (SELECT FROM sluice.outbox o WHERE o.id = ANY (a.members));
  RETURN NULL;
END $fn$;
)SQL";

std::string event_free_list() {
    std::string list;
    for (std::string_view name : sessions::event_free_sessions)
        list += (list.empty() ? "" : ", ") + pg::quote_literal(std::string(name));
    return list;
}

}  // namespace

std::vector<Migration> migrations(const SchemaOptions& options) {
    std::string quoted = pg::quote_qualified(options.events_table);
    auto dot = options.events_table.rfind('.');
    std::string base =
        dot == std::string::npos ? options.events_table : options.events_table.substr(dot + 1);
    auto expand = [&](std::string sql) {
        sql = replace_all(std::move(sql), "{{events_literal}}", pg::quote_literal(quoted));
        sql = replace_all(std::move(sql), "{{events}}", quoted);
        sql = replace_all(std::move(sql), "{{base}}", base);
        sql = replace_all(std::move(sql), "{{event_free_sessions}}", event_free_list());
        sql = replace_all(std::move(sql), "{{webhook_prefix}}",
                          pg::quote_literal(std::string(sessions::webhook_prefix)));
        sql = replace_all(std::move(sql), "{{outbox_channel}}",
                          pg::quote_literal(std::string(outbox_channel)));
        return replace_all(std::move(sql), "{{channel}}",
                           pg::quote_literal(options.notify_channel));
    };
    return {
        {1, "sluice schema: checkpoints, parked events, outbox, owners", "sluice",
         expand(core_sql)},
        {2, "events table (created when absent)", options.events_table, expand(events_table_sql)},
        {3, "events: transaction_id, position index, notify trigger", options.events_table,
         expand(events_additions_sql)},
        {4, "subscriber locks", "sluice", subscriber_lock_sql},
        {5, "outbox indexes", "sluice", outbox_indexes_sql},
        {6, "instances and ownership", "sluice", ownership_sql},
        {7, "outbox claim index", "sluice", outbox_claim_index_sql},
        {8, "event horizon past sluice's own sessions", "sluice", expand(event_horizon_sql)},
        {9, "event_part: the part of an event, for the part indexes", "sluice", event_part_sql},
        {10, "owner leases for transaction pooling", "sluice", leases_sql},
        {11, "endpoint health: failing_since, operational events", "sluice", endpoint_health_sql},
        {12, "aggregate snapshots and sluice.aggregate_state", "sluice", snapshots_sql},
        {13, "outbox: a webhook body's data", "sluice", outbox_data_sql},
        {14, "outbox: batches", "sluice", outbox_batches_sql},
        {15, "the upcasters each projection was built through", "sluice", projection_upcasters_sql},
        {16, "outbox: the event type after upcasters", "sluice", outbox_event_type_sql},
        {17, "checkpoints: the applied-event counter (sluice verify)", "sluice",
         applied_counter_sql},
        {18, "quarantine: parked events hold their aggregate back", "sluice", quarantine_sql},
        {19, "blue/green rebuilds in progress", "sluice", rebuilds_sql},
        // Version 8 again, with the sessions of `sluice rebuild` and `sluice rollback` among
        // the event-free ones (store/sessions.hpp).
        {20, "event horizon past rebuilds and rollbacks", "sluice", expand(event_horizon_sql)},
        {21, "rebuilds asked of the daemon: requests, progress, outcome", "sluice",
         rebuild_requests_sql},
        {22, "the definition each projection was built by", "sluice", projection_definitions_sql},
        {23, "outbox: batches in flight; attempts without a foreign key", "sluice",
         outbox_batches_in_flight_sql},
        {24, "outbox: one attempt row per batched request", "sluice", outbox_batch_attempts_sql},
    };
}

}  // namespace sluice::store
