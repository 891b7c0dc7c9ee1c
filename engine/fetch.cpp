#include "engine/fetch.hpp"

#include <algorithm>
#include <charconv>

namespace sluice::engine {
namespace {

template <class Int>
Int to_int(std::string_view text) {
    Int out{};
    std::from_chars(text.data(), text.data() + text.size(), out);
    return out;
}

// The columns parse_rows reads first, from the events table as `e`.
constexpr const char* event_columns =
    "e.transaction_id::text, e.id, e.aggregate_id::text, e.aggregate_type, e.version, "
    "e.event_type, coalesce(extract(epoch FROM e.timestamp), 0)::float8";

// Whether a committed row of `quoted_table` has a transaction_id at or above `bound`. ORDER BY
// and LIMIT keep the plan on the position index whatever the estimate for a parameter.
std::string any_at_or_above(const std::string& quoted_table, const std::string& bound) {
    return "((SELECT a.transaction_id FROM " + quoted_table +
           " a WHERE a.transaction_id >= " + bound +
           " ORDER BY a.transaction_id LIMIT 1) IS NOT NULL)";
}

constexpr const char* snapshot_xmin = "pg_snapshot_xmin(pg_current_snapshot())";

// The horizon, given `waiting`: an expression saying whether a committed row waits at or above
// xmin. Only then are sessions looked up; otherwise xmin reads exactly the same rows.
std::string horizon_given(const std::string& waiting) {
    return std::string("(CASE WHEN ") + waiting + " THEN sluice.event_horizon() ELSE " +
           snapshot_xmin + " END)";
}

}  // namespace

std::string horizon_sql(const std::string& quoted_table) {
    return horizon_given(any_at_or_above(quoted_table, snapshot_xmin));
}

std::string fetch_sql(const std::string& quoted_table) {
    // One snapshot decides both what is read and whether anything committed waits above the
    // horizon (`held`, read from the first row; a lone row of NULLs when nothing is readable).
    // Nothing waiting at or above xmin means nothing held: one probe then, not two.
    // MATERIALIZED: the horizon and `held` are computed once, not once per row or condition.
    // Qualified names in ORDER BY: the output column "transaction_id" is text, and sorting by
    // it would read the whole range instead of walking the index.
    return "WITH w AS MATERIALIZED (SELECT " + any_at_or_above(quoted_table, snapshot_xmin) +
           " AS waiting), h AS MATERIALIZED (SELECT w.waiting, " + horizon_given("w.waiting") +
           " AS horizon FROM w), hz AS MATERIALIZED (SELECT h.horizon, h.waiting AND " +
           any_at_or_above(quoted_table, "h.horizon") + " AS held FROM h) SELECT " + event_columns +
           ", hz.held FROM hz LEFT JOIN LATERAL (SELECT * FROM " + quoted_table +
           " e WHERE (e.transaction_id, e.id) > ($1::xid8, $2::bigint)"
           " AND e.transaction_id < hz.horizon"
           " ORDER BY e.transaction_id, e.id LIMIT $3) e ON true";
}

std::string fetch_one_sql(const std::string& quoted_table) {
    return std::string("SELECT ") + event_columns + ", false FROM " + quoted_table +
           " e WHERE e.id = $1::bigint";
}

Fetched parse_rows(const pg::Result& r) {
    Fetched out;
    out.rows.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        if (i == 0)
            out.held_back = r.boolean(0, 7);
        if (r.is_null(i, 1))
            continue;  // the row that only carries `held`
        EventRow e;
        e.position.transaction_id = to_int<std::uint64_t>(r.text(i, 0));
        e.position.id = to_int<std::int64_t>(r.text(i, 1));
        e.aggregate_id = r.text(i, 2);
        e.aggregate_type = r.text(i, 3);
        e.version = to_int<int>(r.text(i, 4));
        e.event_type = r.text(i, 5);
        e.timestamp = std::strtod(std::string(r.text(i, 6)).c_str(), nullptr);
        out.rows.push_back(std::move(e));
    }
    // The join keeps the index order in practice; commit order must not rest on a plan.
    auto by_position = [](const EventRow& a, const EventRow& b) { return a.position < b.position; };
    if (!std::is_sorted(out.rows.begin(), out.rows.end(), by_position))
        std::sort(out.rows.begin(), out.rows.end(), by_position);
    return out;
}

asio::awaitable<Fetched> fetch(pg::AsyncConnection& conn, std::string sql, Position after,
                               int limit, std::chrono::milliseconds timeout) {
    auto r = co_await conn.query(
        std::move(sql),
        pg::Params(std::to_string(after.transaction_id), std::to_string(after.id), limit), timeout);
    co_return parse_rows(r);
}

}  // namespace sluice::engine
