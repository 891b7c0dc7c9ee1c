#include "projections/part_index.hpp"

#include <boost/asio/this_coro.hpp>

#include "infra/log/log.hpp"
#include "infra/pg/async_connection.hpp"
#include "projections/partition.hpp"
#include "store/sessions.hpp"

namespace sluice::projections {
namespace {

constexpr std::chrono::milliseconds query_timeout{30000};

// The quoted last identifier of a quoted, optionally qualified name, with `suffix` appended
// inside the quotes. quote_qualified writes plain identifiers only, so the last '"' but one
// opens it.
std::string suffixed_last(const std::string& quoted, std::string_view suffix) {
    auto open = quoted.rfind('"', quoted.size() - 2);
    return quoted.substr(open, quoted.size() - 1 - open) + std::string(suffix) + '"';
}

std::string suffix(int count) {
    return "_sluice_part" + std::to_string(count) + "_idx";
}

}  // namespace

std::string part_index_name(const std::string& quoted_events_table, int count) {
    auto open = quoted_events_table.rfind('"', quoted_events_table.size() - 2);
    return quoted_events_table.substr(0, open) + suffixed_last(quoted_events_table, suffix(count));
}

std::string create_part_index_sql(const std::string& quoted_events_table, int count) {
    return "CREATE INDEX CONCURRENTLY IF NOT EXISTS " +
           suffixed_last(quoted_events_table, suffix(count)) + " ON " + quoted_events_table + " (" +
           part_expression("aggregate_id", count) + ", transaction_id, id)";
}

boost::asio::awaitable<void> build_part_index(PartIndexBuild build) {
    const std::string index = part_index_name(build.quoted_events_table, build.count);
    const std::string create = create_part_index_sql(build.quoted_events_table, build.count);
    try {
        auto ex = co_await boost::asio::this_coro::executor;
        // No statement_timeout: the build is bounded by build_timeout instead.
        auto conn = co_await pg::AsyncConnection::connect(
            ex, build.url, build.connect_timeout,
            {std::string(store::sessions::part_index), std::chrono::milliseconds(0)});
        // One builder per index among the instances (held until the connection closes).
        auto locked = co_await conn.query(
            "SELECT pg_try_advisory_lock(hashtextextended('sluice.part_index:' || $1, 0))",
            pg::Params(index), query_timeout);
        if (!locked.boolean(0, 0))
            co_return;
        auto state = co_await conn.query(
            "SELECT i.indisvalid, EXISTS (SELECT 1 FROM pg_stat_progress_create_index p "
            "WHERE p.index_relid = i.indexrelid) FROM pg_index i "
            "WHERE i.indexrelid = to_regclass($1)",
            pg::Params(index), query_timeout);
        if (state.rows() > 0 && state.boolean(0, 0))
            co_return;
        if (state.rows() > 0 && state.boolean(0, 1)) {
            log::info("the part index is being built by another session",
                      {{"index", index}, {"partitions", build.count}});
            co_return;
        }
        if (state.rows() > 0) {
            log::warn("dropping an invalid part index left by an interrupted build",
                      {{"index", index}});
            co_await conn.query("DROP INDEX CONCURRENTLY IF EXISTS " + index, {},
                                build.build_timeout);
        }
        log::info(
            "building the part index; until it is ready each part reads every event and applies "
            "its share",
            {{"index", index}, {"partitions", build.count}});
        auto started = std::chrono::steady_clock::now();
        co_await conn.query(create, {}, build.build_timeout);
        log::info(
            "part index ready: each part reads only its own events",
            {{"index", index},
             {"seconds",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
    } catch (const std::exception& e) {
        log::warn(
            "could not build the part index; the parts read every event until it exists (run "
            "the statement yourself)",
            {{"index", index}, {"error", e.what()}, {"statement", create}});
    }
}

}  // namespace sluice::projections
