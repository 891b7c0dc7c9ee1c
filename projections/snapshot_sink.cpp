#include "projections/snapshot_sink.hpp"

#include "engine/upcast_install.hpp"
#include "infra/pg/literal.hpp"

namespace sluice::projections {
namespace {

// Serialises installing fold functions: two instances replacing one function at once would
// fail with "tuple concurrently updated".
constexpr long long install_lock_key = 0x736c756963650c01LL;  // "sluice" + migration 12

}  // namespace

std::string snapshot_subscriber(const std::string& aggregate_type, Part part) {
    return part_name("snapshots:" + aggregate_type, part);
}

SnapshotSink::SnapshotSink(config::Snapshot snapshot, std::string quoted_events_table,
                           std::chrono::milliseconds statement_timeout, Part part,
                           engine::Upcast upcast)
    : snapshot_(std::move(snapshot)),
      part_(part),
      name_(snapshot_subscriber(snapshot_.aggregate_type, part_)),
      upcast_(std::move(upcast)),
      function_(fold_function(snapshot_, quoted_events_table, upcast_)),
      statement_timeout_(statement_timeout) {}

boost::asio::awaitable<void> SnapshotSink::prepare(pg::AsyncConnection& conn) {
    // One transaction: the functions, and the checkpoint put back to the start when this
    // subscriber last ran with another fingerprint. The names and the fingerprint come from the
    // config, never from events.
    const std::string name = pg::quote_literal(name_);
    const std::string fingerprint = pg::quote_literal(function_.fingerprint);
    co_await engine::install_upcast(conn, upcast_, statement_timeout_);
    co_await conn.exec_script(
        "BEGIN;\n"
        "SELECT pg_advisory_xact_lock(" +
            std::to_string(install_lock_key) + ");\n" + function_.install_sql + function_.take_sql +
            "SELECT sluice.reset_checkpoint(c.name, '0', 0)\n"
            "  FROM sluice.checkpoints c JOIN sluice.snapshot_subscribers p ON p.name = c.name\n"
            " WHERE p.name = " +
            name + " AND p.fingerprint <> " + fingerprint +
            ";\n"
            "INSERT INTO sluice.snapshot_subscribers (name, aggregate_type, fingerprint)\n"
            "  VALUES (" +
            name + ", " + pg::quote_literal(snapshot_.aggregate_type) + ", " + fingerprint +
            ")\n"
            "  ON CONFLICT (name) DO UPDATE SET aggregate_type = EXCLUDED.aggregate_type,\n"
            "    fingerprint = EXCLUDED.fingerprint, updated_at = now()\n"
            "  WHERE sluice.snapshot_subscribers.fingerprint <> EXCLUDED.fingerprint;\n"
            "COMMIT;\n",
        statement_timeout_);
}

bool SnapshotSink::wants(const engine::EventRow& event) const {
    if (event.aggregate_type != snapshot_.aggregate_type || event.version <= 0 ||
        event.version % snapshot_.every != 0)
        return false;
    return part_.count <= 1 || part_of(event.aggregate_id, part_.count) == part_.index;
}

std::vector<pg::Step> SnapshotSink::apply_steps(
    const std::vector<const engine::EventRow*>& events) const {
    return {{function_.call_sql, pg::Params(pg::int_array(events, [](const engine::EventRow* e) {
                 return e->position.id;
             }))}};
}

}  // namespace sluice::projections
