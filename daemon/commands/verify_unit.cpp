#include "daemon/commands/verify_unit.hpp"

#include <vector>

#include "infra/pg/literal.hpp"
#include "outbox/dispatch_sql.hpp"

namespace sluice::daemon {
namespace {

using engine::Position;

Position position_at(const pg::Result& r, int row, int column) {
    return {std::stoull(std::string(r.text(row, column))), r.int64(row, column + 1)};
}

// The (event type, aggregate type) pairs the sink wants, as two parallel text[] literals, and
// how many events of them lie in the counted stretch. The sink is asked about one event of each
// pair found at or below the checkpoint (of the part: every event there belongs to it, so any one
// answers for all), so what matches is what the daemon's own filter says.
struct Wanted {
    std::vector<std::string> event_types;
    std::vector<std::string> aggregate_types;
    std::int64_t counted = 0;
};

std::string part_filter(const VerifyTarget& target) {
    return target.part.count > 1 ? projections::part_condition("e.aggregate_id", target.part)
                                 : std::string("TRUE");
}

Wanted wanted_pairs(pg::Connection& conn, const VerifyTarget& target, const UnitVerdict& v) {
    auto r = conn.exec(
        "SELECT e.event_type, e.aggregate_type, min(e.aggregate_id::text), "
        "count(*) FILTER (WHERE (e.transaction_id, e.id) > ($3::xid8, $4)) FROM " +
            target.quoted_events_table +
            " e WHERE (e.transaction_id, e.id) <= ($1::xid8, $2) AND " + part_filter(target) +
            " GROUP BY 1, 2",
        pg::Params(std::to_string(v.checkpoint.transaction_id), v.checkpoint.id,
                   std::to_string(v.counted_from.transaction_id), v.counted_from.id));
    Wanted wanted;
    for (int i = 0; i < r.rows(); ++i) {
        engine::EventRow event;
        event.event_type = r.text(i, 0);
        event.aggregate_type = r.text(i, 1);
        event.aggregate_id = r.text(i, 2);
        if (!target.sink->wants(event))
            continue;
        wanted.event_types.push_back(event.event_type);
        wanted.aggregate_types.push_back(event.aggregate_type);
        wanted.counted += r.int64(i, 3);
    }
    return wanted;
}

// The condition "one of the wanted pairs" over `e`, parameters $first and $first + 1.
std::string wanted_condition(int first) {
    return "(e.event_type::text, e.aggregate_type::text) IN (SELECT * FROM unnest($" +
           std::to_string(first) + "::text[], $" + std::to_string(first + 1) + "::text[]))";
}

// The id of the `offset`-th wanted, unparked event in (after, upto], in commit order (from the
// end when `from_end`); nullopt when there are not that many.
std::optional<std::int64_t> nth_unparked(pg::Connection& conn, const VerifyTarget& target,
                                         const Wanted& wanted, Position after, Position upto,
                                         std::int64_t offset, bool from_end) {
    const std::string dir = from_end ? " DESC" : "";
    auto r = conn.exec(
        "SELECT e.id FROM " + target.quoted_events_table +
            " e WHERE (e.transaction_id, e.id) > ($1::xid8, $2) "
            "AND (e.transaction_id, e.id) <= ($3::xid8, $4) AND " +
            part_filter(target) + " AND " + wanted_condition(5) +
            " AND NOT EXISTS (SELECT 1 FROM sluice.parked_events p WHERE p.subscriber = $7 "
            "AND p.event_id = e.id) ORDER BY e.transaction_id" +
            dir + ", e.id" + dir + " OFFSET $8 LIMIT 1",
        pg::Params(std::to_string(after.transaction_id), after.id,
                   std::to_string(upto.transaction_id), upto.id, pg::text_array(wanted.event_types),
                   pg::text_array(wanted.aggregate_types), target.sink->name(), offset));
    if (r.rows() == 0)
        return std::nullopt;
    return r.int64(0, 0);
}

// Where the `count` events the counter misses are. A checkpoint moved past events other than by
// advance_checkpoint left the counter behind at the start of the stretch it skipped: they are
// the first `count` unparked matching events after that point (exact for one such move). Without
// such a break, the counter cannot say which: the range is the whole counted stretch.
MissingEvents locate(pg::Connection& conn, const VerifyTarget& target, const Wanted& wanted,
                     const UnitVerdict& v, std::int64_t count) {
    MissingEvents missing{count, 0, 0, false};
    if (v.counted < v.checkpoint) {
        auto first = nth_unparked(conn, target, wanted, v.counted, v.checkpoint, 0, false);
        auto last = nth_unparked(conn, target, wanted, v.counted, v.checkpoint, count - 1, false);
        if (first && last)
            return {count, *first, *last, true};
    }
    missing.first_id =
        nth_unparked(conn, target, wanted, v.counted_from, v.checkpoint, 0, false).value_or(0);
    missing.last_id =
        nth_unparked(conn, target, wanted, v.counted_from, v.checkpoint, 0, true).value_or(0);
    return missing;
}

// The enqueue's condition over `e`; the upcast columns come from a subquery evaluated only for
// the events that reach it.
std::string enqueue_check(const VerifyTarget& target) {
    const std::string condition = outbox::enqueue_condition(*target.webhook, *target.upcast);
    if (condition.empty())
        return "TRUE";
    if (target.upcast->empty())
        return "(" + condition + ")";
    return "(SELECT " + condition + " FROM " + target.upcast->call("e") + " sluice_up)";
}

// A webhook's matching events at or below the checkpoint with no outbox row and not parked. An
// event whose row exists or that is parked is never run through filter: or the upcasters (a
// parked one may be why they fail). Events older than the retention are left out: their
// delivered rows may have been pruned (a row is pruned a retention after its delivery, which
// came after the event's time).
std::optional<MissingEvents> without_outbox(pg::Connection& conn, const VerifyTarget& target,
                                            const Wanted& wanted, const UnitVerdict& v) {
    auto r = conn.exec(
        "SELECT count(*), (array_agg(e.id ORDER BY e.transaction_id, e.id))[1], "
        "(array_agg(e.id ORDER BY e.transaction_id DESC, e.id DESC))[1] FROM " +
            target.quoted_events_table +
            " e WHERE (e.transaction_id, e.id) <= ($1::xid8, $2) AND " + wanted_condition(3) +
            " AND e.\"timestamp\" > now() - $5::bigint * interval '1 millisecond' "
            "AND CASE WHEN EXISTS (SELECT 1 FROM sluice.outbox o WHERE o.webhook = $6 "
            "AND o.event_id = e.id) OR EXISTS (SELECT 1 FROM sluice.parked_events p "
            "WHERE p.subscriber = $6 AND p.event_id = e.id) THEN false ELSE " +
            enqueue_check(target) + " END",
        pg::Params(std::to_string(v.checkpoint.transaction_id), v.checkpoint.id,
                   pg::text_array(wanted.event_types), pg::text_array(wanted.aggregate_types),
                   static_cast<std::int64_t>(target.outbox_retention.count()),
                   target.sink->name()));
    if (r.int64(0, 0) == 0)
        return std::nullopt;
    return MissingEvents{r.int64(0, 0), r.int64(0, 1), r.int64(0, 2), true};
}

}  // namespace

std::string position_text(const Position& p) {
    return std::to_string(p.transaction_id) + "/" + std::to_string(p.id);
}

UnitVerdict verify_unit(pg::Connection& conn, const VerifyTarget& target) {
    UnitVerdict v;
    v.name = target.sink->name();
    v.kind = target.webhook ? "webhook" : "projection";
    auto row = conn.exec(
        "SELECT transaction_id::text, event_id, counted_from_tx::text, counted_from_id, "
        "counted_tx::text, counted_id, applied_events FROM sluice.checkpoints WHERE name = $1",
        pg::Params(v.name));
    if (row.rows() == 0)
        return v;
    v.has_checkpoint = true;
    v.checkpoint = position_at(row, 0, 0);
    v.counted_from = position_at(row, 0, 2);
    v.counted = position_at(row, 0, 4);
    v.applied = row.int64(0, 6);
    const Wanted wanted = wanted_pairs(conn, target, v);
    v.matching = wanted.counted;
    v.parked =
        conn.exec(
                "SELECT count(*) FROM sluice.parked_events WHERE subscriber = $1 "
                "AND (transaction_id, event_id) > ($2::xid8, $3) "
                "AND (transaction_id, event_id) <= ($4::xid8, $5)",
                pg::Params(v.name, std::to_string(v.counted_from.transaction_id), v.counted_from.id,
                           std::to_string(v.checkpoint.transaction_id), v.checkpoint.id))
            .int64(0, 0);
    const std::int64_t unaccounted = v.matching - v.applied - v.parked;
    if (unaccounted > 0)
        v.missing = locate(conn, target, wanted, v, unaccounted);
    v.over_counted = unaccounted < 0;
    if (target.webhook)
        v.without_outbox = without_outbox(conn, target, wanted, v);
    return v;
}

}  // namespace sluice::daemon
