#include "daemon/commands/check_connect.hpp"

#include "engine/upcast_install.hpp"
#include "infra/pg/connection.hpp"
#include "infra/pg/literal.hpp"
#include "infra/sql/sql_template.hpp"
#include "outbox/dispatch_sql.hpp"
#include "projections/schema.hpp"

namespace sluice::daemon {
namespace {

// The type of a parameter: an event column, or a fold's :state.
std::string param_type(const std::string& name) {
    return name == "state" ? "jsonb" : std::string(sql::event_param_type(name));
}

// The statement with each :param as a typed positional parameter, e.g. :payload -> $2::jsonb.
std::string as_prepared(std::string_view statement, std::vector<std::string>& types) {
    types.clear();
    return sql::substitute_params(statement, [&](const sql::ParamRef& ref) {
        auto it = std::find(types.begin(), types.end(), ref.name);
        if (it == types.end()) {
            types.push_back(ref.name);
            it = types.end() - 1;
        }
        return "$" + std::to_string(it - types.begin() + 1) + "::" + param_type(ref.name);
    });
}

}  // namespace

std::vector<config::Diagnostic> check_against_database(const config::Config& c) {
    std::vector<config::Diagnostic> out;
    config::Location top{c.source_file, 0, 0};
    auto conn = pg::Connection::open(c.database.url, 10, "sluice check-config");
    pg::Transaction tx(conn);  // rolled back: nothing is left behind
    auto table = conn.exec("SELECT to_regclass($1) IS NOT NULL",
                           pg::Params(pg::quote_qualified(c.database.events_table)));
    if (!table.boolean(0, 0)) {
        out.push_back({top, "events table " + c.database.events_table +
                                " does not exist (sluice run or sluice migrate creates it)"});
        return out;
    }
    auto column = conn.exec(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) "
        "AND attname = 'transaction_id' AND NOT attisdropped",
        pg::Params(pg::quote_qualified(c.database.events_table)));
    if (column.int64(0, 0) == 0) {
        out.push_back({top, "events table " + c.database.events_table +
                                " has no transaction_id column yet (sluice migrate adds it)"});
    }
    int n = 0;
    const std::string search_path(conn.exec("SHOW search_path").text(0, 0));
    for (const auto& p : c.projections) {
        conn.exec("SAVEPOINT projection");
        try {
            // As the daemon runs them: in the projection's schema (created here, rolled back).
            if (!p.schema.empty())
                conn.exec(projections::create_schema_sql(p.schema));
            conn.exec(
                "SELECT set_config('search_path', $1, true)",
                pg::Params(p.schema.empty() ? search_path
                                            : pg::quote_identifier(p.schema) + ", " + search_path));
            if (!p.setup.empty())
                conn.exec_script(p.setup);
        } catch (const pg::ServerError& e) {
            out.push_back({p.location, "projection " + p.name + ": setup failed: " + e.what() +
                                           " (SQLSTATE " + e.sqlstate() + ")"});
            conn.exec("ROLLBACK TO SAVEPOINT projection");
            continue;
        }
        for (const auto& h : p.handlers) {
            for (const auto& st : sql::split_statements(h.sql)) {
                std::vector<std::string> names;
                std::string text = as_prepared(st.text, names);
                conn.exec("SAVEPOINT handler");
                try {
                    conn.exec("PREPARE sluice_check_" + std::to_string(++n) + " AS " + text);
                    conn.exec("RELEASE SAVEPOINT handler");
                } catch (const pg::ServerError& e) {
                    conn.exec("ROLLBACK TO SAVEPOINT handler");
                    out.push_back({h.location, "projection " + p.name + ", handler " +
                                                   h.event_type + ": " + e.what() + " (SQLSTATE " +
                                                   e.sqlstate() + ")"});
                }
            }
        }
        conn.exec("RELEASE SAVEPOINT projection");
    }
    conn.exec("SELECT set_config('search_path', $1, true)", pg::Params(search_path));
    const std::string events = pg::quote_qualified(c.database.events_table);
    for (const auto& w : c.webhooks) {
        for (const auto& [key, expression] : {std::pair{"filter", &w.filter}, {"body", &w.body}}) {
            if (!*expression)
                continue;
            conn.exec("SAVEPOINT expression");
            std::string problem;
            try {
                auto type = conn.exec(outbox::expression_type_sql(**expression, events));
                problem = outbox::expression_type_problem(key, type.text(0, 0)).value_or("");
                conn.exec("RELEASE SAVEPOINT expression");
            } catch (const pg::ServerError& e) {
                conn.exec("ROLLBACK TO SAVEPOINT expression");
                problem = std::string(e.what()) + " (SQLSTATE " + e.sqlstate() + ")";
            }
            if (!problem.empty()) {
                out.push_back({(*expression)->location,
                               std::string(key) + " of webhook '" + w.name + "': " + problem});
            }
        }
    }
    // Upcasters: each when: boolean, each payload: jsonb.
    const auto upcast_problems = engine::check_upcast(conn, engine::Upcast(c.upcasters, events));
    out.insert(out.end(), upcast_problems.begin(), upcast_problems.end());
    // Fold expressions: each prepared as the jsonb value it must be.
    for (const auto& s : c.snapshots) {
        auto check = [&](const std::string& expression, const config::Location& where,
                         const std::string& what) {
            std::vector<std::string> names;
            const std::string text = "SELECT (" + as_prepared(expression, names) + "\n)::jsonb";
            conn.exec("SAVEPOINT fold");
            try {
                conn.exec("PREPARE sluice_check_" + std::to_string(++n) + " AS " + text);
                conn.exec("RELEASE SAVEPOINT fold");
            } catch (const pg::ServerError& e) {
                conn.exec("ROLLBACK TO SAVEPOINT fold");
                out.push_back({where, "snapshots of " + s.aggregate_type + ", " + what + ": " +
                                          e.what() + " (SQLSTATE " + e.sqlstate() + ")"});
            }
        };
        check(s.initial, s.initial_location, "initial");
        for (const auto& a : s.apply)
            check(a.sql, a.location, "apply " + a.event_type);
    }
    return out;
}

}  // namespace sluice::daemon
