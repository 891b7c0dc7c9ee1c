#include "projections/schema.hpp"

#include "infra/pg/literal.hpp"

namespace sluice::projections {

std::string with_schema_first(const std::string& schema, const std::string& script) {
    if (schema.empty())
        return script;
    return "SELECT set_config('search_path', " +
           pg::quote_literal(pg::quote_identifier(schema) + ", ") +
           " || current_setting('search_path'), true);\n" + script;
}

std::string create_schema_sql(const std::string& schema) {
    return "CREATE SCHEMA IF NOT EXISTS " + pg::quote_identifier(schema);
}

std::string grants_sql(const std::string& schema, const std::vector<std::string>& grants) {
    std::string sql;
    for (const auto& role : grants) {
        sql += "GRANT USAGE ON SCHEMA " + pg::quote_identifier(schema) + " TO " +
               pg::quote_identifier(role) + ";\nGRANT SELECT ON ALL TABLES IN SCHEMA " +
               pg::quote_identifier(schema) + " TO " + pg::quote_identifier(role) + ";\n";
    }
    return sql;
}

Generations generations(const config::Projection& projection) {
    return {projection.schema, projection.schema + "__next", projection.schema + "__previous",
            incoming_checkpoint(projection.name, false),
            incoming_checkpoint(projection.name, true)};
}

std::string incoming_checkpoint(const std::string& projection, bool rollback) {
    return projection + (rollback ? "@previous" : "@next");
}

}  // namespace sluice::projections
