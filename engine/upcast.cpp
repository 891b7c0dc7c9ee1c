#include "engine/upcast.hpp"

#include <algorithm>
#include <stdexcept>

#include "infra/pg/literal.hpp"
#include "infra/sql/sql_template.hpp"
#include "infra/sql/text_hash.hpp"

namespace sluice::engine {
namespace {

// Serialises installing upcast functions (as fold functions are: snapshot_sink.cpp).
constexpr long long install_lock_key = 0x736c756963650f01LL;  // "sluice" + migration 15

// The function's parameters, in the order of sql::event_params(): sluice_<name>.
std::string parameter(std::string_view name) {
    return "sluice_" + std::string(name);
}

// An expression as it runs inside the function: :payload and :event_type are the event as the
// earlier upcasters left it, the other parameters the stored columns.
std::string embedded(std::string_view expression) {
    return sql::substitute_params(expression, [](const sql::ParamRef& ref) -> std::string {
        if (ref.name == "payload")
            return "sluice_body";
        if (ref.name == "event_type")
            return "sluice_type";
        if (!sql::is_event_param(ref.name))
            throw std::invalid_argument("unknown parameter :" + ref.name);
        return parameter(ref.name);
    });
}

// The same expression over the events row `e`, for the type checks.
std::string over_row(std::string_view expression) {
    return sql::substitute_params(expression, [](const sql::ParamRef& ref) -> std::string {
        if (!sql::is_event_param(ref.name))
            throw std::invalid_argument("unknown parameter :" + ref.name);
        return "e.\"" + ref.name + "\"";
    });
}

std::string place(const config::Location& l) {
    std::string out = l.file;
    if (l.line > 0)
        out += ":" + std::to_string(l.line) + ":" + std::to_string(l.column);
    return out;
}

// "upcaster 2 (OrderCreated)": how messages name an upcaster.
std::string label(const config::Upcaster& u, std::size_t index) {
    return "upcaster " + std::to_string(index + 1) + " (" + u.event_type + ")";
}

// A dollar-quote tag that no expression contains.
std::string body_tag(const std::vector<config::Upcaster>& upcasters) {
    auto used = [&](const std::string& tag) {
        return std::any_of(upcasters.begin(), upcasters.end(), [&](const config::Upcaster& u) {
            return u.when.find(tag) != std::string::npos ||
                   u.payload.find(tag) != std::string::npos;
        });
    };
    std::string tag = "$sluice_upcast$";
    for (int n = 0; used(tag); ++n)
        tag = "$sluice_upcast_" + std::to_string(n) + "$";
    return tag;
}

// What an upcaster does, unambiguously (lengths before each part); not where it is written.
std::string definition_text(const config::Upcaster& u) {
    std::string text;
    for (std::string_view part : {std::string_view(u.event_type), std::string_view(u.when),
                                  std::string_view(u.payload), std::string_view(u.rename_to)})
        text += std::to_string(part.size()) + ":" + std::string(part) + ";";
    return text;
}

std::string in_list(const TypeSet& types) {
    std::string list;
    for (const auto& t : types)
        list += (list.empty() ? "" : ", ") + pg::quote_literal(t);
    return list;
}

std::string steps(const std::vector<config::Upcaster>& upcasters) {
    std::string out;
    for (std::size_t i = 0; i < upcasters.size(); ++i) {
        const auto& u = upcasters[i];
        out += "      IF sluice_type = " + pg::quote_literal(u.event_type) +
               " THEN\n"
               "        sluice_step := " +
               pg::quote_literal(label(u, i) + " at " + place(u.location)) + ";\n";
        std::string change;
        if (!u.payload.empty()) {
            change += "          sluice_body := (" + embedded(u.payload) +
                      "\n          )::jsonb;\n"
                      "          IF sluice_body IS NULL THEN\n"
                      "            RAISE EXCEPTION 'its payload: expression gave NULL' "
                      "USING ERRCODE = '22004';\n"
                      "          END IF;\n";
        }
        if (!u.rename_to.empty())
            change += "          sluice_type := " + pg::quote_literal(u.rename_to) + ";\n";
        if (u.when.empty()) {
            out += change;
        } else {
            out += "        IF (" + embedded(u.when) + "\n        ) IS TRUE THEN\n" + change +
                   "        END IF;\n";
        }
        out += "      END IF;\n";
    }
    return out;
}

}  // namespace

Upcast::Upcast(std::vector<config::Upcaster> upcasters, const std::string& quoted_events_table,
               bool session_only)
    : upcasters_(std::move(upcasters)) {
    if (upcasters_.empty())
        return;
    TypeSet touched;
    for (const auto& u : upcasters_)
        touched.insert(u.event_type);
    std::string params;
    for (const auto& name : sql::event_params()) {
        params += (params.empty() ? "" : ", ") + parameter(name) + " " +
                  std::string(sql::event_param_type(name));
    }
    const std::string tag = body_tag(upcasters_);
    // STABLE: the folds that call it are. Only events of a type some upcaster names enter the
    // block with an exception handler (a subtransaction each); the rest return at once. Local
    // variables keep their values in the handler, so sluice_step names the failing upcaster.
    const std::string body =
        "(" + params + ",\n  OUT event_type text, OUT payload jsonb)\nLANGUAGE plpgsql STABLE AS " +
        tag +
        "\n#variable_conflict use_column\n"
        "DECLARE\n"
        "  sluice_type text := sluice_event_type;\n"
        "  sluice_body jsonb := sluice_payload;\n"
        "  sluice_step text;\n"
        "  sluice_message text;\n"
        "  sluice_sqlstate text;\n"
        "BEGIN\n"
        "  IF sluice_type IN (" +
        in_list(touched) +
        ") THEN\n"
        "    BEGIN\n" +
        steps(upcasters_) +
        "    EXCEPTION WHEN OTHERS THEN\n"
        "      GET STACKED DIAGNOSTICS sluice_message = MESSAGE_TEXT,\n"
        "                              sluice_sqlstate = RETURNED_SQLSTATE;\n"
        "      RAISE EXCEPTION '% failed for event %: %', sluice_step, sluice_id, sluice_message\n"
        "        USING ERRCODE = sluice_sqlstate;\n"
        "    END;\n"
        "  END IF;\n"
        "  event_type := sluice_type;\n"
        "  payload := sluice_body;\n"
        "END\n" +
        tag + ";\n";
    // The events table is part of the name's text: the parameter types follow its columns.
    if (session_only) {
        function_ = "pg_temp.sluice_upcast";
        install_sql_ = "CREATE OR REPLACE FUNCTION " + function_ + body;
    } else {
        function_ = "sluice.\"upcast_" + sql::text_hash(quoted_events_table + "\n" + body) + "\"";
        install_sql_ = "BEGIN;\nSELECT pg_advisory_xact_lock(" + std::to_string(install_lock_key) +
                       ");\nCREATE OR REPLACE FUNCTION " + function_ + body + "COMMIT;\n";
    }

    for (std::size_t i = 0; i < upcasters_.size(); ++i) {
        const auto& u = upcasters_[i];
        // A scalar subquery over no row is a NULL of the expression's type.
        auto check = [&](const std::string& expression) {
            return "SELECT pg_typeof((SELECT (" + over_row(expression) + "\n) FROM " +
                   quoted_events_table + " e WHERE false))::text";
        };
        if (!u.when.empty())
            type_checks_.push_back(
                {check(u.when), "boolean", "when of " + label(u, i), u.when_location});
        if (!u.payload.empty())
            type_checks_.push_back(
                {check(u.payload), "jsonb", "payload of " + label(u, i), u.payload_location});
    }
}

std::string Upcast::call(std::string_view row) const {
    std::string args;
    for (const auto& name : sql::event_params()) {
        const std::string column = std::string(row) + ".\"" + name + "\"";
        const std::string type(sql::event_param_type(name));
        // The stored column's own type may differ (a SERIAL id, VARCHAR(255) event_type).
        args += (args.empty() ? "" : ", ") + column + "::" + type;
    }
    return function_ + "(" + args + ")";
}

TypeSet Upcast::sources_of(const TypeSet& types) const {
    // Backwards through the list: a type before step i may become one of `types` after the
    // last step when it is one already after step i, or step i renames it into one.
    TypeSet reach = types;
    for (auto it = upcasters_.rbegin(); it != upcasters_.rend(); ++it) {
        if (!it->rename_to.empty() && reach.contains(it->rename_to))
            reach.insert(it->event_type);
    }
    return reach;
}

TypeSet Upcast::guard_types(const TypeSet& types) const {
    const TypeSet reach = sources_of(types);
    TypeSet out;
    for (const auto& u : upcasters_) {
        if (reach.contains(u.event_type))
            out.insert(u.event_type);
    }
    return out;
}

std::string Upcast::definition_for(const TypeSet& types) const {
    // Step i matters when an event that may still end as one of `types` can have its type at
    // step i: the types that reach `types` from before step i.
    std::vector<TypeSet> reach_before(upcasters_.size() + 1);
    reach_before[upcasters_.size()] = types;
    for (std::size_t i = upcasters_.size(); i-- > 0;) {
        reach_before[i] = reach_before[i + 1];
        const auto& u = upcasters_[i];
        if (!u.rename_to.empty() && reach_before[i + 1].contains(u.rename_to))
            reach_before[i].insert(u.event_type);
    }
    std::string text;
    for (std::size_t i = 0; i < upcasters_.size(); ++i) {
        if (reach_before[i].contains(upcasters_[i].event_type))
            text += definition_text(upcasters_[i]);
    }
    return text;
}

std::string Upcast::definition() const {
    std::string text;
    for (const auto& u : upcasters_)
        text += definition_text(u);
    return text;
}

std::string Upcast::plpgsql_step(std::string_view record, const TypeSet& types,
                                 std::string_view indent) const {
    const TypeSet guard = guard_types(types);
    if (guard.empty())
        return {};
    const std::string r(record);
    const std::string in(indent);
    // An assignment, not SELECT ... INTO: it takes PL/pgSQL's expression path, a third of the
    // cost per event.
    return in + "IF " + r + ".event_type IN (" + in_list(guard) + ") THEN\n" + in +
           "  sluice_upcast := " + call(r) + ";\n" + in + "  " + r +
           ".event_type := sluice_upcast.event_type;\n" + in + "  " + r +
           ".payload := sluice_upcast.payload;\n" + in + "END IF;\n";
}

std::string Upcast::plpgsql_variables() const {
    return empty() ? std::string() : "  sluice_upcast record;\n";
}

std::optional<std::string> type_problem(std::string_view wanted, std::string_view type) {
    if (type == wanted)
        return std::nullopt;
    std::string problem =
        "must be of type " + std::string(wanted) + ", but is of type " + std::string(type);
    if (wanted == "jsonb" && (type == "json" || type == "text"))
        problem += " (add ::jsonb, or build it with jsonb_build_object)";
    return problem;
}

}  // namespace sluice::engine
