#include <iostream>

#include <boost/json.hpp>

#include "daemon/commands/commands.hpp"
#include "store/event_writer.hpp"

namespace sluice::daemon {

int events_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    add_database_options(options);
    options.add_options()("aggregate-id", po::value<std::string>()->required(), "aggregate UUID")(
        "as-of", po::value<std::string>(), "only events at or before this time (ISO 8601)")(
        "json", po::bool_switch(), "one JSON object per line");
    po::variables_map vm;
    if (!parse_options("events", "--aggregate-id UUID [--as-of TIME] [--json]", options, args,
                       vm)) {
        return exit_ok;
    }
    std::string id = vm["aggregate-id"].as<std::string>();
    if (!store::is_uuid(id))
        throw UsageError("--aggregate-id '" + id + "' is not a UUID");
    std::optional<std::string> as_of;
    if (vm.count("as-of") != 0U)
        as_of = vm["as-of"].as<std::string>();
    const std::string table = events_table(vm);
    auto conn = pg::Connection::open(database_url(vm), 10, "sluice events");
    require_events_table(conn, table);
    if (as_of) {
        try {
            conn.exec("SELECT $1::timestamptz", pg::Params(*as_of));
        } catch (const pg::ServerError& e) {
            throw UsageError("--as-of '" + *as_of + "' is not a time: " + e.what());
        }
    }
    auto events = store::load(conn, id, as_of, table);
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
