#include "daemon/commands/aggregate_query.hpp"

#include "daemon/commands/commands.hpp"
#include "infra/pg/error.hpp"
#include "store/event.hpp"

namespace sluice::daemon {

AggregateQuery open_aggregate_query(const po::variables_map& vm,
                                    const std::string& application_name,
                                    const std::optional<config::Config>& config) {
    std::string id = vm["aggregate-id"].as<std::string>();
    if (!store::is_uuid(id))
        throw UsageError("--aggregate-id '" + id + "' is not a UUID");
    std::optional<std::string> as_of;
    if (vm.count("as-of") != 0U)
        as_of = vm["as-of"].as<std::string>();
    std::string table = config ? config->database.events_table : events_table(vm);
    auto conn = pg::Connection::open(database_url(vm, config), 10, application_name);
    require_events_table(conn, table);
    if (as_of) {
        try {
            conn.exec("SELECT $1::timestamptz", pg::Params(*as_of));
        } catch (const pg::ServerError& e) {
            throw UsageError("--as-of '" + *as_of + "' is not a time: " + e.what());
        }
    }
    return {std::move(id), std::move(as_of), std::move(table), std::move(conn)};
}

}  // namespace sluice::daemon
