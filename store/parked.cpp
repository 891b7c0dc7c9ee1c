#include "store/parked.hpp"

#include "infra/pg/literal.hpp"

namespace sluice::store {
namespace {

// True for the subscriber named $1 and for the parts of a projection named $1.
constexpr const char* of_subscriber =
    "(p.subscriber = $1 OR left(p.subscriber, length($1) + 1) = $1 || '[')";

}  // namespace

std::vector<ParkedEvent> parked_events(pg::Connection& conn, const std::string& quoted_events_table,
                                       const std::optional<std::string>& subscriber) {
    auto r = conn.exec(
        "SELECT p.subscriber, p.event_id, p.transaction_id::text, e.aggregate_id::text, "
        "e.aggregate_type, e.event_type, " +
            pg::iso_utc("p.parked_at") +
            ", p.sqlstate, p.error, p.quarantine, CASE WHEN p.quarantine THEN "
            "nullif(first_value(p.event_id) OVER aggregate, p.event_id) END "
            "FROM sluice.parked_events p LEFT JOIN " +
            quoted_events_table + " e ON e.id = p.event_id WHERE $1::text IS NULL OR " +
            of_subscriber +
            " WINDOW aggregate AS (PARTITION BY p.subscriber, p.quarantine, p.aggregate_type, "
            "p.aggregate_id ORDER BY p.version, p.event_id) "
            "ORDER BY p.transaction_id, p.event_id, p.subscriber",
        pg::Params(subscriber));
    std::vector<ParkedEvent> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        ParkedEvent p;
        p.subscriber = r.text(i, 0);
        p.event_id = r.int64(i, 1);
        p.transaction_id = std::stoull(std::string(r.text(i, 2)));
        p.aggregate_id = r.optional_text(i, 3);
        p.aggregate_type = r.optional_text(i, 4);
        p.event_type = r.optional_text(i, 5);
        p.parked_at = r.text(i, 6);
        p.sqlstate = r.optional_text(i, 7);
        p.error = r.text(i, 8);
        p.quarantine = r.boolean(i, 9);
        if (!r.is_null(i, 10))
            p.behind = r.int64(i, 10);
        out.push_back(std::move(p));
    }
    return out;
}

std::string quarantined_aggregates_sql(const std::string& subscriber_expression) {
    return "(SELECT count(*) FROM (SELECT DISTINCT q.aggregate_type, q.aggregate_id FROM "
           "sluice.parked_events q WHERE q.subscriber = " +
           subscriber_expression + " AND q.quarantine) q)";
}

std::int64_t drop_parked(pg::Connection& conn, const std::string& subscriber,
                         std::optional<std::int64_t> event_id) {
    std::optional<std::string> id;
    if (event_id)
        id = std::to_string(*event_id);
    auto r = conn.exec(std::string("DELETE FROM sluice.parked_events p WHERE ") + of_subscriber +
                           " AND ($2::bigint IS NULL OR p.event_id = $2::bigint)",
                       pg::Params(subscriber, id));
    return std::stoll(r.affected());
}

std::vector<std::string> known_subscribers(pg::Connection& conn) {
    auto r = conn.exec(
        "SELECT name FROM sluice.checkpoints UNION SELECT subscriber FROM sluice.parked_events "
        "ORDER BY 1");
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i)
        out.emplace_back(r.text(i, 0));
    return out;
}

}  // namespace sluice::store
