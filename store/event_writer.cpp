#include "store/event_writer.hpp"

#include <map>
#include <regex>

#include <boost/json/parse.hpp>

#include "infra/pg/literal.hpp"

namespace sluice::store {
namespace {

constexpr std::size_t max_rows_per_statement = 5000;  // 7 parameters each, under 65535
constexpr const char* unique_violation = "23505";

void validate(const std::string& aggregate_id, const std::string& aggregate_type, const NewEvent& e,
              const std::string& where) {
    if (!is_uuid(aggregate_id)) {
        throw std::invalid_argument(where + "aggregate id '" + aggregate_id + "' is not a UUID");
    }
    if (aggregate_type.empty())
        throw std::invalid_argument(where + "aggregate type is empty");
    if (e.event_type.empty())
        throw std::invalid_argument(where + "event type is empty");
    if (auto err = json_error(e.payload); !err.empty()) {
        throw std::invalid_argument(where + "payload is not valid JSON: " + err);
    }
    if (e.metadata) {
        if (auto err = json_error(*e.metadata); !err.empty()) {
            throw std::invalid_argument(where + "metadata is not valid JSON: " + err);
        }
    }
}

}  // namespace

bool is_uuid(const std::string& text) {
    static const std::regex uuid(
        R"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})");
    return std::regex_match(text, uuid);
}

std::string json_error(const std::string& text) {
    boost::system::error_code ec;
    boost::json::parse(text, ec);
    return ec ? ec.message() : std::string();
}

EventWriter::EventWriter(pg::Connection& conn, std::string events_table)
    : conn_(conn), table_(pg::quote_qualified(events_table)) {}

void EventWriter::check_timestamps(const std::vector<std::pair<int, std::string>>& timestamps) {
    if (timestamps.empty())
        return;
    // One round trip: a session function tries each cast in its own subtransaction.
    conn_.exec_script(R"SQL(
        CREATE OR REPLACE FUNCTION pg_temp.sluice_bad_timestamps(v text[]) RETURNS int[]
        LANGUAGE plpgsql AS $fn$
        DECLARE bad int[] := '{}';
        BEGIN
          FOR i IN 1 .. coalesce(array_length(v, 1), 0) LOOP
            BEGIN
              PERFORM v[i]::timestamptz;
            EXCEPTION WHEN others THEN
              bad := bad || i;
            END;
          END LOOP;
          RETURN bad;
        END $fn$;)SQL");
    std::vector<std::string> texts;
    for (const auto& [line, text] : timestamps)
        texts.push_back(text);
    std::string array = pg::text_array(texts);
    auto r =
        conn_.exec("SELECT unnest(pg_temp.sluice_bad_timestamps($1::text[]))", pg::Params(array));
    if (r.rows() > 0) {
        const auto& [line, text] = timestamps[static_cast<std::size_t>(r.int64(0, 0) - 1)];
        throw std::invalid_argument("line " + std::to_string(line) + ": timestamp '" + text +
                                    "' is not a time");
    }
}

EventWriter::Current EventWriter::current(const std::string& aggregate_id) {
    auto r = conn_.exec("SELECT coalesce(max(version), 0), min(aggregate_type) FROM " + table_ +
                            " WHERE aggregate_id = $1",
                        pg::Params(aggregate_id));
    Current now{static_cast<int>(r.int64(0, 0)), std::nullopt};
    if (!r.is_null(0, 1))
        now.type = std::string(r.text(0, 1));
    return now;
}

void EventWriter::insert_rows(const std::vector<Row>& rows) {
    for (std::size_t start = 0; start < rows.size(); start += max_rows_per_statement) {
        std::size_t end = std::min(rows.size(), start + max_rows_per_statement);
        std::string sql = "INSERT INTO " + table_ +
                          " (aggregate_id, aggregate_type, version, event_type, payload, "
                          "metadata, timestamp) VALUES ";
        pg::Params params;
        int n = 0;
        for (std::size_t i = start; i < end; ++i) {
            const Row& r = rows[i];
            if (i > start)
                sql += ',';
            sql += "($" + std::to_string(n + 1) + "::uuid,$" + std::to_string(n + 2) + ",$" +
                   std::to_string(n + 3) + "::int,$" + std::to_string(n + 4) + ",$" +
                   std::to_string(n + 5) + "::jsonb,$" + std::to_string(n + 6) +
                   "::jsonb,coalesce($" + std::to_string(n + 7) + "::timestamptz, now()))";
            n += 7;
            params.add(*r.aggregate_id)
                .add(*r.aggregate_type)
                .add(r.version)
                .add(r.event->event_type)
                .add(r.event->payload)
                .add(r.event->metadata)
                .add(r.event->timestamp);
        }
        conn_.exec(sql, params);
    }
}

int EventWriter::append(const std::string& aggregate_id, const std::string& aggregate_type,
                        int expected_version, const std::vector<NewEvent>& events) {
    if (expected_version < 0) {
        throw std::invalid_argument("expected version must be 0 or more, got " +
                                    std::to_string(expected_version));
    }
    if (events.empty())
        throw std::invalid_argument("no events to append");
    for (const NewEvent& e : events)
        validate(aggregate_id, aggregate_type, e, "");

    std::vector<Row> rows;
    int version = expected_version;
    for (const NewEvent& e : events)
        rows.push_back({&aggregate_id, &aggregate_type, ++version, &e});
    try {
        pg::Transaction tx(conn_);
        Current now = current(aggregate_id);
        if (now.type && *now.type != aggregate_type)
            throw AggregateTypeMismatch(aggregate_id, *now.type, aggregate_type);
        if (now.version != expected_version)
            throw VersionConflict(aggregate_id, expected_version, now.version);
        insert_rows(rows);
        tx.commit();
    } catch (const pg::ServerError& e) {
        // Another writer inserted the same version between our check and our insert.
        if (e.sqlstate() != unique_violation)
            throw;
        throw VersionConflict(aggregate_id, expected_version, current_version(aggregate_id));
    }
    return version;
}

namespace {

// Checks what can be checked without the database: each line on its own, and each aggregate's
// lines against the one before. Throws std::invalid_argument naming the line.
void check_bulk_lines(const std::vector<BulkEvent>& events) {
    std::map<std::string, const BulkEvent*> previous;  // per aggregate
    for (const BulkEvent& b : events) {
        std::string where = "line " + std::to_string(b.line) + ": ";
        validate(b.aggregate_id, b.aggregate_type, b.event, where);
        if (b.version && *b.version < 1) {
            throw std::invalid_argument(where + "version must be 1 or more");
        }
        const BulkEvent*& before = previous[b.aggregate_id];
        if (before != nullptr && b.version.has_value() != before->version.has_value()) {
            throw std::invalid_argument(where + "give \"version\" on every line of aggregate " +
                                        b.aggregate_id + " or on none");
        }
        if (before != nullptr && b.version && *b.version != *before->version + 1) {
            throw std::invalid_argument(
                where + "version " + std::to_string(*b.version) + " does not follow version " +
                std::to_string(*before->version) + " (line " + std::to_string(before->line) + ")");
        }
        if (before != nullptr && b.aggregate_type != before->aggregate_type) {
            throw std::invalid_argument(where + "aggregate type " + b.aggregate_type +
                                        " differs from " + before->aggregate_type + " (line " +
                                        std::to_string(before->line) + ")");
        }
        before = &b;
    }
}

// The events grouped by aggregate, in first-appearance order, each in line order.
std::vector<EventWriter::Group> group_by_aggregate(const std::vector<BulkEvent>& events) {
    std::vector<EventWriter::Group> groups;
    std::map<std::string, std::size_t> index;
    for (const BulkEvent& b : events) {
        auto [it, inserted] = index.try_emplace(b.aggregate_id, groups.size());
        if (inserted)
            groups.emplace_back();
        groups[it->second].push_back(&b);
    }
    return groups;
}

}  // namespace

BulkReport EventWriter::append_bulk(const std::vector<BulkEvent>& events,
                                    std::size_t chunk_events) {
    check_bulk_lines(events);
    std::vector<std::pair<int, std::string>> timestamps;
    for (const BulkEvent& b : events) {
        if (b.event.timestamp)
            timestamps.emplace_back(b.line, *b.event.timestamp);
    }
    check_timestamps(timestamps);
    const auto groups = group_by_aggregate(events);

    BulkReport report;
    std::size_t i = 0;
    while (i < groups.size()) {
        // A chunk is whole aggregates, about chunk_events events.
        std::vector<const Group*> chunk;
        std::size_t count = 0;
        while (i < groups.size() && (chunk.empty() || count < chunk_events)) {
            chunk.push_back(&groups[i]);
            count += groups[i].size();
            ++i;
        }
        if (!append_chunk(chunk, report)) {
            for (const auto* g : chunk)
                append_group(*g, report);
        }
    }
    return report;
}

bool EventWriter::append_chunk(const std::vector<const Group*>& chunk, BulkReport& report) {
    std::string ids = pg::text_array(
        chunk, [](const auto* g) -> const std::string& { return g->front()->aggregate_id; });
    try {
        pg::Transaction tx(conn_);
        auto stored =
            conn_.exec("SELECT aggregate_id::text, max(version), min(aggregate_type) FROM " +
                           table_ + " WHERE aggregate_id = ANY($1::uuid[]) GROUP BY 1",
                       pg::Params(ids));
        std::map<std::string, int> versions;
        std::map<std::string, std::string> types;
        for (int r = 0; r < stored.rows(); ++r) {
            versions[std::string(stored.text(r, 0))] = static_cast<int>(stored.int64(r, 1));
            types[std::string(stored.text(r, 0))] = std::string(stored.text(r, 2));
        }
        std::vector<Row> rows;
        for (const auto* g : chunk) {
            const BulkEvent& first = *g->front();
            int at = versions[first.aggregate_id];
            // Explicit versions that do not continue the history, or an aggregate stored under
            // another type: settle one by one.
            if (first.version && *first.version != at + 1)
                return false;
            auto type = types.find(first.aggregate_id);
            if (type != types.end() && type->second != first.aggregate_type)
                return false;
            for (const BulkEvent* b : *g)
                rows.push_back({&b->aggregate_id, &first.aggregate_type, ++at, &b->event});
        }
        insert_rows(rows);
        tx.commit();
        report.events_appended += static_cast<std::int64_t>(rows.size());
        report.aggregates_appended += static_cast<std::int64_t>(chunk.size());
        return true;
    } catch (const pg::ServerError& e) {
        if (e.sqlstate() != unique_violation)
            throw;
        return false;  // a concurrent writer: find out which aggregates lost
    }
}

void EventWriter::append_group(const Group& group, BulkReport& report) {
    const BulkEvent& first = *group.front();
    int expected = first.version ? *first.version - 1 : current_version(first.aggregate_id);
    std::vector<NewEvent> batch;
    for (const BulkEvent* b : group)
        batch.push_back(b->event);
    try {
        append(first.aggregate_id, first.aggregate_type, expected, batch);
        report.events_appended += static_cast<std::int64_t>(group.size());
        ++report.aggregates_appended;
    } catch (const VersionConflict& c) {
        report.conflicts.push_back("line " + std::to_string(first.line) + ": " + c.what());
    } catch (const AggregateTypeMismatch& m) {
        report.conflicts.push_back("line " + std::to_string(first.line) + ": " + m.what());
    }
}

std::vector<StoredEvent> load(pg::Connection& conn, const std::string& aggregate_id,
                              const std::optional<std::string>& as_of,
                              const std::string& events_table, const std::string& upcast) {
    if (!is_uuid(aggregate_id)) {
        throw std::invalid_argument("aggregate id '" + aggregate_id + "' is not a UUID");
    }
    const std::string seen = upcast.empty() ? "e" : "sluice_up";
    std::string sql =
        "SELECT e.id, e.transaction_id::text, e.aggregate_id::text, e.aggregate_type, e.version, " +
        seen + ".event_type, " + seen + ".payload::text, e.metadata::text, " +
        pg::iso_utc("e.timestamp") + " FROM " + pg::quote_qualified(events_table) + " e" +
        (upcast.empty() ? "" : " CROSS JOIN LATERAL " + upcast + " sluice_up") +
        " WHERE e.aggregate_id = $1 AND ($2::timestamptz IS NULL OR e.timestamp <= "
        "$2::timestamptz) ORDER BY e.version";
    auto r = conn.exec(sql, pg::Params(aggregate_id, as_of));
    std::vector<StoredEvent> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back({r.int64(i, 0), std::string(r.text(i, 1)), std::string(r.text(i, 2)),
                       std::string(r.text(i, 3)), static_cast<int>(r.int64(i, 4)),
                       std::string(r.text(i, 5)), std::string(r.text(i, 6)), r.optional_text(i, 7),
                       std::string(r.text(i, 8))});
    }
    return out;
}

}  // namespace sluice::store
