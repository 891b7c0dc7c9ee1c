// Conversion of upcasters: event versioning steps. `when` and `payload` are checked here (one
// expression each, only event parameters), so such a mistake is reported at its exact place in
// the file; their SQL and types are checked when sluice prepares them (check-config --connect,
// or the daemon's start).
#include "config/sections.hpp"

namespace sluice::config {
namespace {

// Event types are stored as VARCHAR(255) in the seed's table.
constexpr std::size_t max_event_type_bytes = 255;

// A required or optional event type name.
void read_type(Reader& r, const YAML::Node& node, std::string_view key, const std::string& scope,
               std::string& out) {
    if (!r.read(node, key, scope, out))
        return;
    if (out.empty() || out.size() > max_event_type_bytes) {
        r.field_error(Reader::value_of(node, key), key, scope,
                      "must be 1 to " + std::to_string(max_event_type_bytes) + " bytes");
    }
}

// `when:` or `payload:`: one SQL expression over the event; empty when the key is left out.
void read_expression(Reader& r, const YAML::Node& node, std::string_view key,
                     const std::string& scope, std::string_view what, std::string& out,
                     Location& location) {
    const auto value = Reader::value_of(node, key);
    if (!value.IsDefined() || value.IsNull())
        return;
    const auto text = r.scalar(value, key, scope);
    if (!text)
        return;
    if (!is_one_expression(*text)) {
        r.field_error(value, key, scope, "expected one " + std::string(what) + " expression");
        return;
    }
    check_event_params(r, *text, std::string(key) + " of " + scope);
    location = r.at(*text, text->text.find_first_not_of(" \t\r\n"));
    out = text->text;
}

}  // namespace

void read_upcaster(Reader& r, const YAML::Node& node, std::size_t index, Upcaster& out) {
    std::string scope = "upcasters[" + std::to_string(index) + "]";
    if (const auto type = Reader::value_of(node, "event_type");
        type.IsScalar() && !type.Scalar().empty()) {
        scope = "upcaster " + std::to_string(index + 1) + " (" + type.Scalar() + ")";
    }
    if (!open_item(r, node, scope, {"event_type", "when", "payload", "rename_to"}, out.location))
        return;
    if (!Reader::value_of(node, "event_type").IsDefined())
        r.error(r.at(node), "event_type in " + scope + ": required (the event type it upcasts)");
    else
        read_type(r, node, "event_type", scope, out.event_type);
    read_expression(r, node, "when", scope, "boolean", out.when, out.when_location);
    read_expression(r, node, "payload", scope, "jsonb", out.payload, out.payload_location);
    read_type(r, node, "rename_to", scope, out.rename_to);
    const bool payload_given = Reader::value_of(node, "payload").IsDefined();
    const bool rename_given = Reader::value_of(node, "rename_to").IsDefined();
    if (!payload_given && !rename_given) {
        r.error(r.at(node), scope +
                                ": says nothing to do (give payload: the new payload, "
                                "rename_to: the new event type, or both)");
    }
    if (!out.rename_to.empty() && out.rename_to == out.event_type) {
        r.field_error(Reader::value_of(node, "rename_to"), "rename_to", scope,
                      "names the type it upcasts (leave it out to keep the type)");
    }
}

}  // namespace sluice::config
