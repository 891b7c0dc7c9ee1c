#include <iostream>

#include <boost/json.hpp>

#include "daemon/commands/aggregate_query.hpp"
#include "daemon/commands/commands.hpp"
#include "engine/upcast_install.hpp"
#include "infra/pg/literal.hpp"
#include "store/event_writer.hpp"

namespace sluice::daemon {

int events_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    add_database_options(options);
    options.add_options()("aggregate-id", po::value<std::string>()->required(), "aggregate UUID")(
        "as-of", po::value<std::string>(), "only events at or before this time (ISO 8601)")(
        "json", po::bool_switch(), "one JSON object per line")(
        "config,c", po::value<std::string>(),
        "show each event as this config's upcasters make it (type and payload); its database "
        "and events table unless --database-url");
    po::variables_map vm;
    if (!parse_options("events", "--aggregate-id UUID [--as-of TIME] [--config FILE] [--json]",
                       options, args, vm)) {
        return exit_ok;
    }
    std::optional<config::Config> config;
    if (vm.count("config") != 0U) {
        config = load_config_or_report(vm["config"].as<std::string>());
        if (!config)
            return exit_usage;
    }
    auto query = open_aggregate_query(vm, "sluice events", config);
    const std::string& id = query.aggregate_id;
    const std::optional<std::string>& as_of = query.as_of;
    const std::string& table = query.events_table;
    pg::Connection& conn = query.conn;
    // Read through a session-only copy of the upcast function: nothing is installed. One
    // transaction, so that a transaction-mode pool keeps the function for the read.
    pg::Transaction tx(conn);
    std::string upcast_call;
    if (config && !config->upcasters.empty()) {
        const engine::Upcast upcast(config->upcasters, pg::quote_qualified(table), true);
        auto problems = engine::check_upcast(conn, upcast);
        if (!problems.empty())
            throw UsageError(config::format(problems.front()));
        conn.exec(upcast.install_sql());
        upcast_call = upcast.call("e");
    }
    auto events = store::load(conn, id, as_of, table, upcast_call);
    tx.commit();
    for (const auto& e : events) {
        if (vm["json"].as<bool>()) {
            // payload and metadata are printed as stored (jsonb text), not re-encoded.
            std::cout << "{\"id\":" << e.id << ",\"aggregate_id\":"
                      << boost::json::serialize(boost::json::string(e.aggregate_id))
                      << ",\"aggregate_type\":"
                      << boost::json::serialize(boost::json::string(e.aggregate_type))
                      << ",\"version\":" << e.version << ",\"event_type\":"
                      << boost::json::serialize(boost::json::string(e.event_type))
                      << ",\"payload\":" << e.payload
                      << ",\"metadata\":" << e.metadata.value_or("null") << ",\"timestamp\":\""
                      << e.timestamp << "\"}\n";
        } else {
            // Metadata (who or what caused the event) only where the event carries it.
            std::cout << "v" << e.version << "  " << e.timestamp << "  " << e.event_type << "  "
                      << e.payload;
            if (e.metadata)
                std::cout << "  metadata=" << *e.metadata;
            std::cout << "\n";
        }
    }
    if (events.empty())
        std::cerr << "no events for aggregate " << id << "\n";
    return exit_ok;
}

}  // namespace sluice::daemon
