#include "store_support.hpp"

#include <poll.h>

#include <stdexcept>

namespace sluice::testing {

const char* const seed_events_sql = R"SQL(
CREATE TABLE events (
    id SERIAL PRIMARY KEY,
    aggregate_id UUID NOT NULL,
    aggregate_type VARCHAR(255) NOT NULL,
    version INT NOT NULL,
    event_type VARCHAR(255) NOT NULL,
    payload JSONB NOT NULL,
    timestamp TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    metadata JSONB,
    UNIQUE (aggregate_id, version)
);
CREATE INDEX idx_events_aggregate_id ON events (aggregate_id);
CREATE INDEX idx_events_timestamp ON events (timestamp);
)SQL";

std::string schema_snapshot(pg::Connection& conn) {
    auto r = conn.exec(R"SQL(
WITH rels AS (
  SELECT c.oid FROM pg_class c
   WHERE c.oid = to_regclass('public.events')
      OR c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = 'sluice'))
SELECT coalesce(string_agg(line, E'\n' ORDER BY line COLLATE "C"), '') FROM (
  SELECT 'column ' || c.relnamespace::regnamespace || '.' || c.relname || '.' || a.attname || ' '
         || format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
         || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') AS line
    FROM pg_class c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
   WHERE c.oid IN (SELECT oid FROM rels) AND c.relkind IN ('r', 'p')
  UNION ALL
  SELECT 'relation ' || c.relkind::text || ' ' || c.relnamespace::regnamespace || '.' || c.relname
    FROM pg_class c WHERE c.oid IN (SELECT oid FROM rels)
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i WHERE i.indrelid IN (SELECT oid FROM rels)
  UNION ALL
  SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rels)
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid)
    FROM pg_trigger t WHERE NOT t.tgisinternal AND t.tgrelid IN (SELECT oid FROM rels)
  UNION ALL
  SELECT 'function ' || p.oid::regprocedure || ' ' || md5(p.prosrc)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'sluice'
  UNION ALL
  SELECT 'migration ' || version || ' ' || target || ' ' || name
    FROM sluice.schema_migrations
) lines
)SQL");
    return std::string(r.text(0, 0));
}

RowsChecksum seed_columns_checksum(pg::Connection& conn) {
    auto r = conn.exec(R"SQL(
SELECT count(*), coalesce(md5(string_agg(concat_ws('|',
         id, aggregate_id, aggregate_type, version, event_type, payload::text,
         coalesce(to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), '<null>'),
         coalesce(metadata::text, '<null>')), E'\n' ORDER BY id)), '')
  FROM events
)SQL");
    return {r.int64(0, 0), std::string(r.text(0, 1))};
}

std::int64_t count_events(pg::Connection& conn) {
    return conn.exec("SELECT count(*) FROM events").int64(0, 0);
}

NotificationCounter::NotificationCounter(pg::Connection& listener, std::string channel)
    : listener_(listener), channel_(std::move(channel)), sentinel_(channel_ + "_test_sentinel") {
    listener_.exec("LISTEN \"" + channel_ + "\"");
    listener_.exec("LISTEN \"" + sentinel_ + "\"");
}

int NotificationCounter::count_until_sentinel(pg::Connection& sender,
                                              std::chrono::milliseconds timeout) {
    sender.exec("SELECT pg_notify($1, '')", pg::Params(sentinel_));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int count = 0;
    PGconn* c = listener_.get();
    while (true) {
        if (PQconsumeInput(c) == 0)
            throw std::runtime_error(std::string("listener connection: ") + PQerrorMessage(c));
        while (PGnotify* n = PQnotifies(c)) {
            std::string relname = n->relname;
            PQfreemem(n);
            if (relname == sentinel_)
                return count;
            if (relname == channel_)
                ++count;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            throw std::runtime_error("no sentinel notification within " +
                                     std::to_string(timeout.count()) + " ms (counted " +
                                     std::to_string(count) + " on " + channel_ + ")");
        }
        pollfd fd{PQsocket(c), POLLIN, 0};
        ::poll(&fd, 1, static_cast<int>(left.count()));
    }
}

}  // namespace sluice::testing
