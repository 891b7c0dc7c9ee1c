// `sluice state`: an aggregate's current (or past) state through sluice.aggregate_state, the
// same query an application runs: the latest snapshot at or before the point asked plus the
// events after it, folded in the server.
#include <iostream>
#include <optional>

#include <boost/json.hpp>

#include "daemon/commands/aggregate_query.hpp"
#include "daemon/commands/commands.hpp"
#include "infra/pg/connection.hpp"
#include "infra/pg/error.hpp"
#include "infra/pg/literal.hpp"
#include "store/event_writer.hpp"

namespace sluice::daemon {

int state_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    add_database_options(options);
    options.add_options()("aggregate-id", po::value<std::string>()->required(), "aggregate UUID")(
        "as-of", po::value<std::string>(),
        "the state after the events at or before this time (ISO 8601)")(
        "json", po::bool_switch(), "one JSON object: aggregate_id, aggregate_type, version, state");
    po::variables_map vm;
    if (!parse_options("state", "--aggregate-id UUID [--as-of TIME] [--json]", options, args, vm)) {
        return exit_ok;
    }
    auto query = open_aggregate_query(vm, "sluice state");
    const std::string& id = query.aggregate_id;
    const std::optional<std::string>& as_of = query.as_of;
    const std::string& table = query.events_table;
    pg::Connection& conn = query.conn;
    // The type names the fold; every event of an aggregate carries the same one.
    auto type = conn.exec("SELECT aggregate_type FROM " + pg::quote_qualified(table) +
                              " WHERE aggregate_id = $1::uuid ORDER BY version LIMIT 1",
                          pg::Params(id));
    if (type.rows() == 0)
        throw UsageError("no events for aggregate " + id);
    const std::string aggregate_type(type.text(0, 0));
    if (!conn.exec("SELECT to_regprocedure('sluice.aggregate_state(text, uuid, timestamptz)') "
                   "IS NOT NULL")
             .boolean(0, 0)) {
        throw UsageError("this database has no sluice.aggregate_state yet: run sluice migrate");
    }
    std::optional<pg::Result> found;
    try {
        found = conn.exec(
            "SELECT version, state::text FROM sluice.aggregate_state($1, $2::uuid, "
            "$3::timestamptz)",
            pg::Params(aggregate_type, id, as_of));
    } catch (const pg::ServerError& e) {
        if (e.sqlstate() != "SL012")
            throw;
        throw UsageError(
            "no fold for aggregate type " + aggregate_type +
            ": configure snapshots: for it and run sluice once (it installs the fold)");
    }
    const pg::Result& state = *found;
    if (state.is_null(0, 0)) {
        std::cerr << "no events of aggregate " << id << " at or before " << as_of.value_or("now")
                  << "\n";
        return exit_failure;
    }
    const auto version = state.int64(0, 0);
    const std::string value = state.is_null(0, 1) ? "null" : std::string(state.text(0, 1));
    if (vm["json"].as<bool>()) {
        // The state is printed as PostgreSQL writes jsonb, not re-encoded.
        std::cout << "{\"aggregate_id\":" << boost::json::serialize(boost::json::string(id))
                  << ",\"aggregate_type\":"
                  << boost::json::serialize(boost::json::string(aggregate_type))
                  << ",\"version\":" << version << ",\"state\":" << value << "}\n";
    } else {
        std::cout << aggregate_type << " " << id << " v" << version << "\n" << value << "\n";
    }
    return exit_ok;
}

}  // namespace sluice::daemon
