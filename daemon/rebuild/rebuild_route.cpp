#include "daemon/rebuild/rebuild_route.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "infra/log/log.hpp"
#include "infra/pg/async_connection.hpp"
#include "store/rebuilds.hpp"
#include "store/sessions.hpp"

namespace sluice::daemon {
namespace {

http::Response answer(unsigned status, const boost::json::object& o) {
    return http::Response{status, "application/json", boost::json::serialize(o) + "\n"};
}

}  // namespace

boost::asio::awaitable<http::Response> answer_rebuild_request(boost::asio::any_io_executor ex,
                                                              const config::Config& config,
                                                              http::Request request,
                                                              std::function<void()> on_requested) {
    if (!request.from_loopback)
        co_return answer(403, {{"error", "rebuilds are asked only from this host (loopback)"}});
    const std::string name(request.path.substr(rebuilds_route.size()));
    const auto it = std::find_if(config.projections.begin(), config.projections.end(),
                                 [&](const config::Projection& p) { return p.name == name; });
    if (it == config.projections.end())
        co_return answer(404, {{"error", "the daemon's config has no projection " + name}});
    if (it->schema.empty()) {
        co_return answer(409, {{"error", "projection " + name +
                                             " owns no schema (schema:): a blue/green rebuild is "
                                             "not possible; use sluice rebuild " +
                                             name + " --in-place"}});
    }
    // A copy: a reload may replace the config while this waits for the database.
    const config::Database database = config.database;
    auto conn = co_await pg::AsyncConnection::connect(
        ex, database.url, database.connect_timeout,
        {std::string(store::sessions::monitor), database.statement_timeout, database.pooling});
    auto r = co_await conn.query(store::request_rebuild_sql,
                                 pg::Params(name, std::string("sluice rebuild")),
                                 database.statement_timeout);
    log::info("rebuild requested", {{"projection", name}, {"new", r.rows() == 1}});
    if (on_requested)
        on_requested();
    co_return answer(
        202,
        {{"projection", name}, {"requested", r.rows() == 1}, {"unit", store::rebuild_unit(name)}});
}

}  // namespace sluice::daemon
