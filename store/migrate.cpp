#include "store/migrate.hpp"

namespace sluice::store {

MigrateReport migrate(pg::Connection& conn, const SchemaOptions& options) {
    auto steps = migrations(options);  // validates the table name before touching anything
    MigrateReport report;
    pg::Transaction tx(conn);
    conn.exec("SELECT pg_advisory_xact_lock($1)", pg::Params(std::int64_t{migrate_lock_key}));
    conn.exec_script(R"SQL(
        SET LOCAL lock_timeout = '30s';
        CREATE SCHEMA IF NOT EXISTS sluice;
        CREATE TABLE IF NOT EXISTS sluice.schema_migrations (
          version int NOT NULL,
          target text NOT NULL,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (version, target));
    )SQL");
    for (const Migration& m : steps) {
        auto done =
            conn.exec("SELECT 1 FROM sluice.schema_migrations WHERE version = $1 AND target = $2",
                      pg::Params(m.version, m.target));
        if (done.rows() > 0) {
            ++report.already_applied;
            continue;
        }
        conn.exec_script(m.sql);
        conn.exec(
            "INSERT INTO sluice.schema_migrations (version, target, name) VALUES ($1, $2, $3)",
            pg::Params(m.version, m.target, m.name));
        report.applied.push_back(std::to_string(m.version) + " " + m.name +
                                 (m.target == "sluice" ? "" : " [" + m.target + "]"));
    }
    tx.commit();
    return report;
}

}  // namespace sluice::store
