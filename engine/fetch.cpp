#include "engine/fetch.hpp"

#include <charconv>

namespace sluice::engine {
namespace {

template <class Int>
Int to_int(std::string_view text) {
    Int out{};
    std::from_chars(text.data(), text.data() + text.size(), out);
    return out;
}

// The columns parse_rows reads, from the events table as `e`.
std::string select_rows(const std::string& quoted_table) {
    return "SELECT e.transaction_id::text, e.id, e.aggregate_id::text, e.aggregate_type, "
           "e.version, e.event_type, coalesce(extract(epoch FROM e.timestamp), 0)::float8 FROM " +
           quoted_table + " e";
}

}  // namespace

std::string fetch_sql(const std::string& quoted_table) {
    // Qualified names in ORDER BY: the output column "transaction_id" is text, and sorting by
    // it would read the whole range instead of walking the index.
    return select_rows(quoted_table) +
           " WHERE (e.transaction_id, e.id) > ($1::xid8, $2::bigint)"
           " AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
           " ORDER BY e.transaction_id, e.id LIMIT $3";
}

std::string fetch_one_sql(const std::string& quoted_table) {
    return select_rows(quoted_table) + " WHERE e.id = $1::bigint";
}

std::vector<EventRow> parse_rows(const pg::Result& r) {
    std::vector<EventRow> rows;
    rows.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        EventRow e;
        e.position.transaction_id = to_int<std::uint64_t>(r.text(i, 0));
        e.position.id = to_int<std::int64_t>(r.text(i, 1));
        e.aggregate_id = r.text(i, 2);
        e.aggregate_type = r.text(i, 3);
        e.version = to_int<int>(r.text(i, 4));
        e.event_type = r.text(i, 5);
        e.timestamp = std::strtod(std::string(r.text(i, 6)).c_str(), nullptr);
        rows.push_back(std::move(e));
    }
    return rows;
}

asio::awaitable<std::vector<EventRow>> fetch(pg::AsyncConnection& conn, std::string sql,
                                             Position after, int limit,
                                             std::chrono::milliseconds timeout) {
    auto r = co_await conn.query(
        std::move(sql),
        pg::Params(std::to_string(after.transaction_id), std::to_string(after.id), limit), timeout);
    co_return parse_rows(r);
}

}  // namespace sluice::engine
