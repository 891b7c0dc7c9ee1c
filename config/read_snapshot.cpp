// Conversion of snapshots: an aggregate type's fold. `initial` and each `apply` expression are
// checked here, so an unknown :parameter or a second statement is reported at its exact place in
// the file rather than when sluice installs the fold function.
#include <set>

#include "config/sections.hpp"
#include "infra/sql/sql_template.hpp"

namespace sluice::config {
namespace {

// The fold function is named fold_<aggregate type>, and PostgreSQL names hold 63 bytes.
constexpr std::size_t max_aggregate_type_bytes = 58;

std::string available_params() {
    std::string out = ":state";
    for (const auto& name : sql::event_params())
        out.append(", :").append(name);
    return out;
}

void read_initial(Reader& r, const YAML::Node& node, const std::string& scope, Snapshot& out) {
    const auto value = Reader::value_of(node, "initial");
    if (!value.IsDefined()) {
        r.error(r.at(node), "initial in " + scope + ": required (a jsonb expression, e.g. '{}')");
        return;
    }
    const auto text = r.scalar(value, "initial", scope);
    if (!text) {
        return;
    }
    if (!is_one_expression(*text)) {
        r.error(r.at(value), "initial in " + scope + ": expected one jsonb expression");
        return;
    }
    for (const auto& param : sql::scan_params(text->text)) {
        r.error(r.at(*text, param.offset),
                "initial in " + scope + ": parameter ':" + param.name +
                    "' is not available here (the initial state comes before any event)");
    }
    const auto first = text->text.find_first_not_of(" \t\r\n");
    out.initial_location = r.at(*text, first);
    out.initial = text->text;
}

void read_apply_expression(Reader& r, const YAML::Node& key, const YAML::Node& value,
                           const std::string& snapshot_scope, Handler& out) {
    out.event_type = key.Scalar();
    const std::string scope = "apply '" + out.event_type + "' of " + snapshot_scope;
    if (value.IsNull()) {
        r.error(r.at(key),
                "missing expression for apply '" + out.event_type + "' in " + snapshot_scope);
        return;
    }
    const auto text = r.scalar(value, "expression", scope);
    if (!text) {
        return;
    }
    if (!is_one_expression(*text)) {
        r.error(r.at(value), scope + ": expected one jsonb expression (the new state)");
        return;
    }
    const auto first = text->text.find_first_not_of(" \t\r\n");
    out.location = r.at(*text, first);
    for (const auto& param : sql::scan_params(text->text)) {
        if (param.name != "state" && !sql::is_event_param(param.name)) {
            r.error(r.at(*text, param.offset), "unknown parameter ':" + param.name + "' in " +
                                                   scope + " (available: " + available_params() +
                                                   ")");
        }
    }
    out.sql = text->text;
}

void read_apply(Reader& r, const YAML::Node& node, const std::string& scope, Snapshot& out) {
    const auto apply = Reader::value_of(node, "apply");
    if (!apply.IsDefined() || apply.IsNull() || (apply.IsMap() && apply.size() == 0)) {
        r.error(apply.IsDefined() ? r.at(Reader::key_of(node, "apply")) : r.at(node),
                "apply in " + scope +
                    ": required (a mapping of event type to the jsonb expression of the new "
                    "state)");
        return;
    }
    if (!apply.IsMap()) {
        r.field_error(apply, "apply", scope,
                      "expected a mapping of event type to a jsonb expression, got " +
                          std::string(describe_kind(apply)));
        return;
    }
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : apply) {
        if (!entry.first.IsScalar() || entry.first.Scalar().empty()) {
            r.error(r.at(entry.first), "apply in " + scope + ": event types must be names");
            continue;
        }
        if (!seen.insert(entry.first.Scalar()).second) {
            r.error(r.at(entry.first),
                    "duplicate apply for event type '" + entry.first.Scalar() + "' in " + scope);
            continue;
        }
        Handler expression;
        read_apply_expression(r, entry.first, entry.second, scope, expression);
        out.apply.push_back(std::move(expression));
    }
}

}  // namespace

void read_snapshot(Reader& r, const YAML::Node& node, std::size_t index, Snapshot& out) {
    std::string scope = "snapshots[" + std::to_string(index) + "]";
    if (const auto type = Reader::value_of(node, "aggregate_type");
        type.IsScalar() && !type.Scalar().empty()) {
        scope = "snapshots of '" + type.Scalar() + "'";
    }
    if (!open_item(
            r, node, scope,
            {"aggregate_type", "initial", "apply", "every", "keep", "on_error", "partitions"},
            out.location)) {
        return;
    }
    if (!Reader::value_of(node, "aggregate_type").IsDefined()) {
        r.error(r.at(node), "aggregate_type in " + scope + ": required");
    } else if (r.read(node, "aggregate_type", scope, out.aggregate_type)) {
        if (out.aggregate_type.empty() || out.aggregate_type.size() > max_aggregate_type_bytes) {
            r.field_error(Reader::value_of(node, "aggregate_type"), "aggregate_type", scope,
                          "must be 1 to " + std::to_string(max_aggregate_type_bytes) + " bytes");
        }
    }
    read_initial(r, node, scope, out);
    read_apply(r, node, scope, out);
    r.read(node, "every", scope, out.every, 1, 1000000);
    r.read(node, "keep", scope, out.keep, 1, 1000);
    r.read(node, "partitions", scope, out.partitions, 1, 256);
    if (const auto on_error = Reader::value_of(node, "on_error"); on_error.IsDefined()) {
        read_on_error(r, on_error, "on_error of " + scope, out.on_error, false);
    }
}

}  // namespace sluice::config
