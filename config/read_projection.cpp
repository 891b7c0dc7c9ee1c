// Conversion of projections: their handlers' SQL is checked here, so that an unknown :parameter
// is reported at its exact place in the file rather than when the first event arrives.
#include <set>

#include "config/sections.hpp"
#include "config/validate.hpp"
#include "infra/sql/sql_template.hpp"

namespace sluice::config {
namespace {

std::string available_params() {
    std::string out;
    for (const auto& name : sql::event_params()) {
        out.append(out.empty() ? ":" : ", :").append(name);
    }
    return out;
}

bool is_blank_text(std::string_view s) {
    return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Setup and reset run without an event, so a :name in them would reach PostgreSQL as a syntax
// error; say so here instead.
void read_plain_sql(Reader& r, const YAML::Node& node, std::string_view key,
                    const std::string& scope, std::string& out) {
    const auto value = Reader::value_of(node, key);
    if (!value.IsDefined()) {
        return;
    }
    const auto text = r.scalar(value, key, scope);
    if (!text) {
        return;
    }
    for (const auto& param : sql::scan_params(text->text)) {
        r.error(r.at(*text, param.offset),
                std::string(key) + " in " + scope + ": parameter ':" + param.name +
                    "' is not available here (" + std::string(key) + " runs without an event)");
    }
    out = text->text;
}

// `schema`, and `verify` and `grants`, which only mean something for a projection that owns one.
void read_schema(Reader& r, const YAML::Node& node, const std::string& scope, Projection& out) {
    if (r.read(node, "schema", scope, out.schema)) {
        out.schema_location = r.at(Reader::value_of(node, "schema"));
        if (const auto problem = check_schema(out.schema); !problem.empty()) {
            r.field_error(Reader::value_of(node, "schema"), "schema", scope, problem);
        }
    }
    read_plain_sql(r, node, "verify", scope, out.verify);
    if (r.read(node, "grants", scope, out.grants)) {
        const auto list = Reader::value_of(node, "grants");
        for (std::size_t i = 0; i < out.grants.size(); ++i) {
            if (const auto problem = check_identifier(out.grants[i], false); !problem.empty()) {
                r.field_error(list[i], "grants[" + std::to_string(i) + "]", scope,
                              "role " + problem);
            }
        }
    }
    for (const std::string_view key : {"verify", "grants"}) {
        const auto value = Reader::value_of(node, key);
        if (value.IsDefined() && !Reader::value_of(node, "schema").IsDefined()) {
            r.error(r.at(Reader::key_of(node, key)),
                    std::string(key) + " in " + scope +
                        ": only a projection that owns a schema has one (add schema:)");
        }
    }
}

// `on_change`, after schema: its default and what it may be depend on it.
void read_on_change(Reader& r, const YAML::Node& node, const std::string& scope, Projection& out) {
    // A blue/green rebuild needs a schema of its own.
    const bool can_rebuild = !out.schema.empty();
    out.on_change = can_rebuild ? Projection::OnChange::rebuild : Projection::OnChange::continue_;
    std::size_t index = 0;
    if (!r.read_choice(node, "on_change", scope, {"rebuild", "continue"}, index))
        return;
    out.on_change = static_cast<Projection::OnChange>(index);
    if (out.on_change != Projection::OnChange::rebuild || can_rebuild)
        return;
    r.error(r.at(Reader::value_of(node, "on_change")),
            "on_change in " + scope +
                ": rebuild needs schema: (the rebuild is built beside the live read model, in a "
                "schema of its own; without one it would empty the read model under its "
                "readers); add schema: or use on_change: continue");
}

}  // namespace

void read_projection(Reader& r, const YAML::Node& node, std::size_t index, Projection& out) {
    const std::string scope = item_scope(node, "projection", "projections", index);
    if (!open_item(r, node, scope,
                   {"name", "aggregate_types", "setup", "reset", "handlers", "on_error",
                    "partitions", "schema", "verify", "grants", "on_change"},
                   out.location)) {
        return;
    }
    read_item_name(r, node, scope, out.name);
    r.read(node, "aggregate_types", scope, out.aggregate_types);
    read_plain_sql(r, node, "setup", scope, out.setup);
    read_plain_sql(r, node, "reset", scope, out.reset);
    r.read(node, "partitions", scope, out.partitions, 1, 256);
    read_schema(r, node, scope, out);
    read_on_change(r, node, scope, out);

    if (const auto on_error = Reader::value_of(node, "on_error"); on_error.IsDefined()) {
        read_on_error(r, on_error, "on_error of " + scope, out.on_error, true);
    }

    const auto handlers = Reader::value_of(node, "handlers");
    if (!handlers.IsDefined() || handlers.IsNull()) {
        r.error(handlers.IsDefined() ? r.at(Reader::key_of(node, "handlers")) : r.at(node),
                "handlers in " + scope + ": required (a mapping of event type to SQL)");
        return;
    }
    if (!handlers.IsMap()) {
        r.field_error(
            handlers, "handlers", scope,
            "expected a mapping of event type to SQL, got " + std::string(describe_kind(handlers)));
        return;
    }
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : handlers) {
        if (!entry.first.IsScalar() || entry.first.Scalar().empty()) {
            r.error(r.at(entry.first), "handlers in " + scope + ": event types must be names");
            continue;
        }
        if (!seen.insert(entry.first.Scalar()).second) {
            r.error(r.at(entry.first),
                    "duplicate handler for event type '" + entry.first.Scalar() + "' in " + scope);
            continue;
        }
        Handler handler;
        read_handler(r, entry.first, entry.second, scope, handler);
        out.handlers.push_back(std::move(handler));
    }
}

void read_handler(Reader& r, const YAML::Node& key, const YAML::Node& sql,
                  const std::string& projection_scope, Handler& out) {
    out.event_type = key.Scalar();
    const std::string scope = "handler '" + out.event_type + "' of " + projection_scope;
    if (sql.IsNull() || (sql.IsScalar() && is_blank_text(sql.Scalar()))) {
        r.error(r.at(key),
                "missing SQL for handler '" + out.event_type + "' in " + projection_scope);
        return;
    }
    const auto text = r.scalar(sql, "SQL", scope);
    if (!text) {
        return;
    }
    const auto first = text->text.find_first_not_of(" \t\r\n");
    out.location = r.at(*text, first == std::string::npos ? 0 : first);
    check_event_params(r, *text, scope);
    out.sql = text->text;
}

void check_event_params(Reader& r, const ScalarText& text, const std::string& scope) {
    for (const auto& param : sql::scan_params(text.text)) {
        if (!sql::is_event_param(param.name)) {
            r.error(r.at(text, param.offset), "unknown parameter ':" + param.name + "' in " +
                                                  scope + " (available: " + available_params() +
                                                  ")");
        }
    }
}

void read_on_error(Reader& r, const YAML::Node& node, const std::string& scope, OnError& out,
                   bool quarantine) {
    if (!r.expect_mapping(node, scope, {"retries", "backoff", "then"})) {
        return;
    }
    r.read(node, "retries", scope, out.retries, 0, 1000);
    r.read(node, "backoff", scope, out.backoff, Duration(0));
    std::size_t index = 0;
    const bool read =
        quarantine ? r.read_choice(node, "then", scope, {"stop", "park", "quarantine"}, index)
                   : r.read_choice(node, "then", scope, {"stop", "park"}, index);
    if (read)
        out.then = static_cast<OnError::Then>(index);
}

}  // namespace sluice::config
