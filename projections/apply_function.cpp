#include "projections/apply_function.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

#include "engine/fetch.hpp"
#include "infra/pg/literal.hpp"
#include "infra/sql/sql_template.hpp"

namespace sluice::projections {
namespace {

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

// CASE over the event type running each handler's statements; counts what it applied.
std::string handler_cases(const config::Projection& projection) {
    std::string cases = "    CASE sluice_ev.event_type\n";
    for (const config::Handler& h : projection.handlers) {
        cases += "      WHEN " + pg::quote_literal(h.event_type) + " THEN\n";
        for (const sql::Statement& st : sql::split_statements(h.sql)) {
            cases += "        " + embed_statement(st.text) + ";\n";
        }
        cases += "        sluice_applied := sluice_applied + 1;\n";
    }
    return cases + "      ELSE NULL;\n    END CASE;\n";
}

std::string aggregate_filter(const config::Projection& projection) {
    if (projection.aggregate_types.empty())
        return "TRUE";
    std::string list;
    for (const auto& t : projection.aggregate_types) {
        list += (list.empty() ? "" : ", ") + pg::quote_literal(t);
    }
    return "sluice_ev.aggregate_type IN (" + list + ")";
}

const char* event_columns =
    "e.id, e.transaction_id, e.aggregate_id, e.aggregate_type, e.version, e.event_type, "
    "e.payload, e.metadata, e.\"timestamp\"";

}  // namespace

namespace {

// FNV-1a: the same name across builds and hosts for the same function text.
std::string text_hash(const std::string& text) {
    std::uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
}

// The same functions in the sluice schema, the hash first so that a long projection name cut at
// 63 characters keeps them apart.
void share(ApplyFunction& f, const std::string& projection) {
    const std::string h = text_hash(f.create_sql);
    for (const std::string kind : {"apply_", "catch_up_"}) {
        const std::string temp = "pg_temp.sluice_" + kind + projection;
        const std::string shared = "sluice.\"" + kind + h + "_" + projection + "\"";
        replace_all(f.create_sql, temp, shared);
        replace_all(f.call_sql, temp, shared);
        replace_all(f.catch_up_sql, temp, shared);
    }
}

ApplyFunction temporary_function(const config::Projection& projection,
                                 const std::string& quoted_events_table, Part part);

}  // namespace

ApplyFunction apply_function(const config::Projection& projection,
                             const std::string& quoted_events_table, Part part,
                             pg::Pooling pooling) {
    ApplyFunction f = temporary_function(projection, quoted_events_table, part);
    if (pooling == pg::Pooling::transaction)
        share(f, projection.name);
    return f;
}

namespace {

ApplyFunction temporary_function(const config::Projection& projection,
                                 const std::string& quoted_events_table, Part part) {
    const std::string tag = body_tag(projection);
    const std::string name = "pg_temp.sluice_apply_" + projection.name;
    const std::string catch_up = "pg_temp.sluice_catch_up_" + projection.name;
    ApplyFunction f;
    // The events given by id, in the order given (the runner's delivery order).
    f.create_sql = "CREATE OR REPLACE FUNCTION " + name +
                   "(sluice_ids bigint[]) RETURNS integer LANGUAGE plpgsql AS " + tag +
                   "\n#variable_conflict use_column\n"
                   "DECLARE\n"
                   "  sluice_ev record;\n"
                   "  sluice_applied integer := 0;\n"
                   "BEGIN\n"
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
                   handler_cases(projection) +
                   "  END LOOP;\n"
                   "  RETURN sluice_applied;\n"
                   "END\n" +
                   tag + ";\n";
    // Catch-up in one statement: the next rows after the checkpoint in commit order, read once
    // in index order, each aggregate's events of one transaction in version order; then the
    // checkpoint moves to the last row read. Same transaction, same guards as a batch.
    f.create_sql += "CREATE OR REPLACE FUNCTION " + catch_up +
                    "(p_name text, p_tx xid8, p_id bigint, p_limit integer, p_owner text,\n"
                    "  OUT rows_read integer, OUT applied integer, OUT last_tx xid8,\n"
                    "  OUT last_id bigint, OUT last_ts float8) LANGUAGE plpgsql AS " +
                    tag +
                    "\n#variable_conflict use_column\n"
                    "DECLARE\n"
                    "  sluice_ev record;\n"
                    "  sluice_applied integer := 0;\n"
                    "BEGIN\n"
                    "  IF p_owner <> '' THEN\n"
                    "    PERFORM sluice.check_owner(p_name, p_owner);\n"
                    "  END IF;\n"
                    "  PERFORM sluice.begin_batch(p_name, p_tx, p_id);\n"
                    "  rows_read := 0; last_tx := p_tx; last_id := p_id; last_ts := 0;\n"
                    "  FOR sluice_ev IN\n"
                    "    SELECT * FROM (SELECT " +
                    event_columns +
                    "\n"
                    "      FROM " +
                    quoted_events_table +
                    " e\n"
                    "     WHERE (e.transaction_id, e.id) > (p_tx, p_id)\n"
                    "       AND e.transaction_id < " +
                    engine::horizon_sql(quoted_events_table) +
                    "\n"
                    "     ORDER BY e.transaction_id, e.id LIMIT p_limit) s\n"
                    "    ORDER BY s.transaction_id,\n"
                    "             min(s.id) OVER (PARTITION BY s.transaction_id, s.aggregate_id),\n"
                    "             s.version\n"
                    "  LOOP\n"
                    "    rows_read := rows_read + 1;\n"
                    "    IF (sluice_ev.transaction_id, sluice_ev.id) > (last_tx, last_id) THEN\n"
                    "      last_tx := sluice_ev.transaction_id; last_id := sluice_ev.id;\n"
                    "    END IF;\n"
                    "    last_ts := greatest(last_ts,\n"
                    "      coalesce(extract(epoch FROM sluice_ev.\"timestamp\"), 0)::float8);\n"
                    "    IF " +
                    aggregate_filter(projection) + " AND " +
                    part_condition("sluice_ev.aggregate_id", part) + " THEN\n" +
                    handler_cases(projection) +
                    "    END IF;\n"
                    "  END LOOP;\n"
                    "  applied := sluice_applied;\n"
                    "  IF rows_read > 0 THEN\n"
                    "    PERFORM sluice.advance_checkpoint(p_name, p_tx, p_id, last_tx, last_id);\n"
                    "  END IF;\n"
                    "END\n" +
                    tag + ";\n";
    f.call_sql = "SELECT " + name + "($1::bigint[])";
    f.catch_up_sql = "SELECT rows_read, applied, last_tx::text, last_id, last_ts FROM " + catch_up +
                     "($1, $2::xid8, $3, $4, $5)";
    return f;
}

}  // namespace

}  // namespace sluice::projections
