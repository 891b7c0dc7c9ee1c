#include "projections/apply_function.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "sql/sql_template.hpp"

namespace sluice::projections {
namespace {

std::string quote_literal(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'')
            out += '\'';
        out += c;
    }
    return out + "'";
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

ApplyFunction apply_function(const config::Projection& projection,
                             const std::string& quoted_events_table) {
    std::string tag = "$sluice_apply$";
    for (int n = 0; std::any_of(
             projection.handlers.begin(), projection.handlers.end(),
             [&](const config::Handler& h) { return h.sql.find(tag) != std::string::npos; });
         ++n) {
        tag = "$sluice_apply_" + std::to_string(n) + "$";
    }
    std::string name = "pg_temp.sluice_apply_" + projection.name;
    std::string cases;
    for (const config::Handler& h : projection.handlers) {
        cases += "      WHEN " + quote_literal(h.event_type) + " THEN\n";
        for (const sql::Statement& st : sql::split_statements(h.sql)) {
            cases += "        " + embed_statement(st.text) + ";\n";
        }
    }
    ApplyFunction f;
    f.create_sql =
        "CREATE OR REPLACE FUNCTION " + name +
        "(sluice_ids bigint[]) RETURNS integer LANGUAGE plpgsql AS " + tag +
        "\n#variable_conflict use_column\n"
        "DECLARE\n"
        "  sluice_ev record;\n"
        "  sluice_n integer := 0;\n"
        "BEGIN\n"
        "  FOR sluice_ev IN\n"
        "    SELECT e.id, e.transaction_id, e.aggregate_id, e.aggregate_type, e.version,\n"
        "           e.event_type, e.payload, e.metadata, e.\"timestamp\"\n"
        "      FROM unnest(sluice_ids) WITH ORDINALITY AS sluice_u(id, ord)\n"
        "      JOIN " +
        quoted_events_table +
        " e ON e.id = sluice_u.id\n"
        "     ORDER BY sluice_u.ord\n"
        "  LOOP\n"
        "    CASE sluice_ev.event_type\n" +
        cases +
        "      ELSE NULL;\n"
        "    END CASE;\n"
        "    sluice_n := sluice_n + 1;\n"
        "  END LOOP;\n"
        "  RETURN sluice_n;\n"
        "END\n" +
        tag;
    f.call_sql = "SELECT " + name + "($1::bigint[])";
    return f;
}

}  // namespace sluice::projections
