#include "projections/apply_function.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "engine/fetch.hpp"
#include "infra/pg/literal.hpp"
#include "infra/sql/sql_template.hpp"
#include "infra/sql/text_hash.hpp"
#include "projections/part_index.hpp"
#include "projections/schema.hpp"

namespace sluice::projections {
namespace {

// A projection that owns a schema: its functions run with the search_path they were created
// with (schema first, see with_schema_first), whatever the calling session has. The value is
// fixed per function, so PL/pgSQL keeps its cached plans; a schema renamed by a rebuild's swap
// invalidates them (PostgreSQL replans every cached plan on a namespace change), and the
// next call resolves the unqualified names again: into the generation that is live then.
std::string function_options(const config::Projection& projection) {
    return projection.schema.empty() ? "" : " SET search_path FROM CURRENT";
}

bool starts_with_keyword(std::string_view s, std::string_view keyword) {
    if (s.size() < keyword.size())
        return false;
    for (std::size_t i = 0; i < keyword.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != keyword[i])
            return false;
    }
    return s.size() == keyword.size() ||
           !std::isalnum(static_cast<unsigned char>(s[keyword.size()]));
}

}  // namespace

std::string embed_statement(std::string_view statement) {
    std::string body = sql::substitute_params(statement, [](const sql::ParamRef& ref) {
        if (!sql::is_event_param(ref.name)) {
            throw std::invalid_argument("unknown parameter :" + ref.name);
        }
        return "sluice_ev.\"" + ref.name + "\"";
    });
    if (starts_with_keyword(body, "select"))
        body = "PERFORM" + body.substr(6);
    return body;
}

namespace {

// A dollar-quote tag that no handler contains.
std::string body_tag(const config::Projection& projection) {
    std::string tag = "$sluice_apply$";
    for (int n = 0; std::any_of(
             projection.handlers.begin(), projection.handlers.end(),
             [&](const config::Handler& h) { return h.sql.find(tag) != std::string::npos; });
         ++n) {
        tag = "$sluice_apply_" + std::to_string(n) + "$";
    }
    return tag;
}

// CASE over the event type running each handler's statements; with `count`, counts what it
// applied (the catch-up counts the events it was given instead).
std::string handler_cases(const config::Projection& projection, bool count = true) {
    std::string cases = "    CASE sluice_ev.event_type\n";
    for (const config::Handler& h : projection.handlers) {
        cases += "      WHEN " + pg::quote_literal(h.event_type) + " THEN\n";
        for (const sql::Statement& st : sql::split_statements(h.sql)) {
            cases += "        " + embed_statement(st.text) + ";\n";
        }
        if (count)
            cases += "        sluice_applied := sluice_applied + 1;\n";
    }
    return cases + "      ELSE NULL;\n    END CASE;\n";
}

std::string in_list(const auto& values) {
    std::string list;
    for (const auto& v : values)
        list += (list.empty() ? "" : ", ") + pg::quote_literal(v);
    return list;
}

// The events the projection is given, as ProjectionSink::wants() picks them on the batch path:
// its aggregate types, and the stored types that are, or an upcaster may rename to, one it
// handles (those an upcaster turns otherwise reach the CASE's ELSE, as on the batch path).
std::string wanted_filter(const config::Projection& projection, const engine::Upcast& upcast) {
    std::string filter =
        "sluice_ev.event_type IN (" + in_list(upcast.sources_of(handled_types(projection))) + ")";
    if (!projection.aggregate_types.empty())
        filter += " AND sluice_ev.aggregate_type IN (" + in_list(projection.aggregate_types) + ")";
    return filter;
}

// Runs `apply` for the event in sluice_ev unless an earlier event of its aggregate is parked in
// quarantine for subscriber p_name: then sluice.park_if_quarantined parks this one behind it
// (store/migrations.cpp), in the caller's transaction. Only the events the projection takes
// (those the runner would hand over: a handled type, or one an upcaster may rename into one)
// are held back, and only while the subscriber has quarantined aggregates (sluice_held, read
// once per call): otherwise the check costs nothing per event.
std::string unless_quarantined(const config::Projection& projection, const engine::Upcast& upcast,
                               const std::string& apply) {
    const std::string types = in_list(upcast.sources_of(handled_types(projection)));
    if (types.empty())
        return apply;
    return "    sluice_behind := false;\n"
           "    IF sluice_held AND sluice_ev.event_type IN (" +
           types +
           ") THEN\n"
           "      sluice_behind := sluice.park_if_quarantined(p_name, sluice_ev.id,\n"
           "        sluice_ev.transaction_id, sluice_ev.aggregate_type, sluice_ev.aggregate_id,\n"
           "        sluice_ev.version);\n"
           "    END IF;\n"
           "    IF NOT sluice_behind THEN\n" +
           apply + "    END IF;\n";
}

// Whether subscriber p_name has quarantined aggregates; once per call, under its lock.
const char* read_held =
    "  sluice_held := EXISTS (SELECT 1 FROM sluice.parked_events sluice_q\n"
    "                          WHERE sluice_q.subscriber = p_name AND sluice_q.quarantine);\n";

const char* quarantine_variables =
    "  sluice_held boolean;\n"
    "  sluice_behind boolean;\n";

const char* event_columns =
    "e.id, e.transaction_id, e.aggregate_id, e.aggregate_type, e.version, e.event_type, "
    "e.payload, e.metadata, e.\"timestamp\"";

// One catch-up read: after the checkpoint, below the horizon, in commit order, then each
// aggregate's events of one transaction in version order; `own` reads only `part`'s rows
// through its part index, else every row (the part's share is picked out in the loop).
std::string catch_up_read(const std::string& quoted_events_table, Part part, bool own) {
    std::string read;
    if (own) {
        // `= ANY` of a one-element array, not `= k`: it is no equality with a constant to the
        // planner, so ORDER BY keeps the part as a sort key, which only the part index yields
        // (the position index would have to sort the part's whole remaining log); the plan
        // stays on the part index whatever the estimates. The btree still treats it as
        // equality: the checkpoint and the horizon bound the scan at both ends, so events held
        // back above the horizon are not scanned. The part is fixed: the order is commit order.
        const std::string p = part_expression("e.aggregate_id", part.count);
        read = "      WHERE " + p + " = ANY ('{" + std::to_string(part.index) +
               "}'::int[])\n"
               "       AND (e.transaction_id, e.id) > (p_tx, p_id)\n"
               "       AND e.transaction_id < sluice_horizon\n     ORDER BY " +
               p + ", e.transaction_id, e.id LIMIT p_limit) s\n";
    } else {
        read =
            "      WHERE (e.transaction_id, e.id) > (p_tx, p_id)\n"
            "       AND e.transaction_id < sluice_horizon\n"
            "     ORDER BY e.transaction_id, e.id LIMIT p_limit) s\n";
    }
    return std::string("    SELECT * FROM (SELECT ") + event_columns + "\n      FROM " +
           quoted_events_table + " e\n" + read +
           "    ORDER BY s.transaction_id,\n"
           "             min(s.id) OVER (PARTITION BY s.transaction_id, s.aggregate_id),\n"
           "             s.version\n";
}

// The loop over one catch-up read: counts every row read, remembers the last position, applies
// those the projection wants (of its part, unless the read has only the part's rows) and counts
// them, for the checkpoint's applied-event counter.
std::string catch_up_loop(const config::Projection& projection, const std::string& read,
                          const std::string& part_filter, const engine::Upcast& upcast) {
    return "  FOR sluice_ev IN\n" + read +
           "  LOOP\n"
           "    rows_read := rows_read + 1;\n"
           "    IF (sluice_ev.transaction_id, sluice_ev.id) > (last_tx, last_id) THEN\n"
           "      last_tx := sluice_ev.transaction_id; last_id := sluice_ev.id;\n"
           "    END IF;\n"
           "    last_ts := greatest(last_ts,\n"
           "      coalesce(extract(epoch FROM sluice_ev.\"timestamp\"), 0)::float8);\n"
           "    IF " +
           wanted_filter(projection, upcast) + " AND " + part_filter +
           " THEN\n"
           "    sluice_applied := sluice_applied + 1;\n" +
           unless_quarantined(projection, upcast,
                              upcast.plpgsql_step("sluice_ev", handled_types(projection), "    ") +
                                  handler_cases(projection, false)) +
           "    END IF;\n"
           "  END LOOP;\n";
}

// Catch-up in one statement: reads the next rows after the checkpoint (catch_up_read), applies
// them and moves the checkpoint to the last row read. Same transaction, same guards as a
// batch. The horizon is computed once, first: every transaction below it had ended when it was
// computed, so the rows below it are the same for every later statement of the function.
// A part whose part index is ready reads only its own rows; when it reads fewer than p_limit it
// has read all of them below the horizon, so its checkpoint passes the other parts' rows up to
// the last row there (else the part would trail the head, and the feed would wake it at every
// other part's event). Without the index (not built yet, or being built) a part reads every
// row, as an unpartitioned projection does, and applies its share.
std::string catch_up_function(const config::Projection& projection,
                              const std::string& quoted_events_table, Part part,
                              const std::string& name, const std::string& tag,
                              const engine::Upcast& upcast) {
    std::string body;
    if (part.count <= 1) {
        body = catch_up_loop(projection, catch_up_read(quoted_events_table, part, false), "TRUE",
                             upcast);
    } else {
        body =
            "  IF coalesce((SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid =\n"
            "                 to_regclass(" +
            pg::quote_literal(part_index_name(quoted_events_table, part.count)) +
            ")), false) THEN\n" +
            catch_up_loop(projection, catch_up_read(quoted_events_table, part, true), "TRUE",
                          upcast) +
            "    IF rows_read < p_limit THEN\n"
            "      SELECT e.transaction_id, e.id INTO sluice_tx, sluice_id FROM " +
            quoted_events_table +
            " e\n"
            "       WHERE e.transaction_id < sluice_horizon\n"
            "       ORDER BY e.transaction_id DESC, e.id DESC LIMIT 1;\n"
            "      IF FOUND AND (sluice_tx, sluice_id) > (last_tx, last_id) THEN\n"
            "        last_tx := sluice_tx; last_id := sluice_id;\n"
            "      END IF;\n"
            "    END IF;\n"
            "  ELSE\n" +
            catch_up_loop(projection, catch_up_read(quoted_events_table, part, false),
                          part_condition("sluice_ev.aggregate_id", part), upcast) +
            "  END IF;\n";
    }
    return "CREATE OR REPLACE FUNCTION " + name +
           "(p_name text, p_tx xid8, p_id bigint, p_limit integer, p_owner text,\n"
           "  OUT rows_read integer, OUT applied integer, OUT last_tx xid8,\n"
           "  OUT last_id bigint, OUT last_ts float8) LANGUAGE plpgsql" +
           function_options(projection) + " AS " + tag +
           "\n#variable_conflict use_column\n"
           "DECLARE\n"
           "  sluice_ev record;\n" +
           upcast.plpgsql_variables() + quarantine_variables +
           "  sluice_applied integer := 0;\n"
           "  sluice_horizon xid8;\n"
           "  sluice_tx xid8;\n"
           "  sluice_id bigint;\n"
           "BEGIN\n"
           "  IF p_owner <> '' THEN\n"
           "    PERFORM sluice.check_owner(p_name, p_owner);\n"
           "  END IF;\n"
           "  PERFORM sluice.begin_batch(p_name, p_tx, p_id);\n" +
           read_held +
           "  rows_read := 0; last_tx := p_tx; last_id := p_id; last_ts := 0;\n"
           "  sluice_horizon := " +
           engine::horizon_sql(quoted_events_table) + ";\n" + body +
           "  applied := sluice_applied;\n"
           "  IF (last_tx, last_id) <> (p_tx, p_id) THEN\n"
           "    PERFORM sluice.advance_checkpoint(p_name, p_tx, p_id, last_tx, last_id,\n"
           "                                      sluice_applied);\n"
           "  END IF;\n"
           "END\n" +
           tag + ";\n";
}

}  // namespace

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
}

// The same functions in the sluice schema, the hash first so that a long projection name cut at
// 63 characters keeps them apart.
void share(ApplyFunction& f, const std::string& projection) {
    const std::string h = sql::text_hash(f.create_sql);
    for (const std::string kind : {"apply_", "catch_up_"}) {
        const std::string temp = "pg_temp.sluice_" + kind + projection;
        const std::string shared = "sluice.\"" + kind + h + "_" + projection + "\"";
        replace_all(f.create_sql, temp, shared);
        replace_all(f.call_sql, temp, shared);
        replace_all(f.catch_up_sql, temp, shared);
    }
}

ApplyFunction temporary_function(const config::Projection& projection,
                                 const std::string& quoted_events_table, Part part,
                                 const engine::Upcast& upcast);

}  // namespace

engine::TypeSet handled_types(const config::Projection& projection) {
    engine::TypeSet types;
    for (const auto& h : projection.handlers)
        types.insert(h.event_type);
    return types;
}

ApplyFunction apply_function(const config::Projection& projection,
                             const std::string& quoted_events_table, Part part, pg::Pooling pooling,
                             const engine::Upcast& upcast) {
    ApplyFunction f = temporary_function(projection, quoted_events_table, part, upcast);
    if (pooling == pg::Pooling::transaction)
        share(f, projection.name);
    return f;
}

namespace {

ApplyFunction temporary_function(const config::Projection& projection,
                                 const std::string& quoted_events_table, Part part,
                                 const engine::Upcast& upcast) {
    const std::string tag = body_tag(projection);
    const std::string name = "pg_temp.sluice_apply_" + projection.name;
    const std::string catch_up = "pg_temp.sluice_catch_up_" + projection.name;
    ApplyFunction f;
    // The events given by id, in the order given (the runner's delivery order), for subscriber
    // p_name (whose quarantined aggregates hold their later events back).
    f.create_sql =
        "CREATE OR REPLACE FUNCTION " + name +
        "(sluice_ids bigint[], p_name text) RETURNS integer LANGUAGE plpgsql" +
        function_options(projection) + " AS " + tag +
        "\n#variable_conflict use_column\n"
        "DECLARE\n"
        "  sluice_ev record;\n" +
        upcast.plpgsql_variables() + quarantine_variables +
        "  sluice_applied integer := 0;\n"
        "BEGIN\n" +
        read_held +
        "  FOR sluice_ev IN\n"
        "    SELECT " +
        event_columns +
        "\n"
        "      FROM unnest(sluice_ids) WITH ORDINALITY AS sluice_u(id, ord)\n"
        "      JOIN " +
        quoted_events_table +
        " e ON e.id = sluice_u.id\n"
        "     ORDER BY sluice_u.ord\n"
        "  LOOP\n" +
        unless_quarantined(projection, upcast,
                           upcast.plpgsql_step("sluice_ev", handled_types(projection), "    ") +
                               handler_cases(projection)) +
        "  END LOOP;\n"
        "  RETURN sluice_applied;\n"
        "END\n" +
        tag + ";\n";
    f.create_sql += catch_up_function(projection, quoted_events_table, part, catch_up, tag, upcast);
    f.create_sql = with_schema_first(projection.schema, f.create_sql);
    f.call_sql = "SELECT " + name + "($1::bigint[], $2)";
    f.catch_up_sql = "SELECT rows_read, applied, last_tx::text, last_id, last_ts FROM " + catch_up +
                     "($1, $2::xid8, $3, $4, $5)";
    return f;
}

}  // namespace

}  // namespace sluice::projections
