#include "projections/definition.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "infra/sql/text_hash.hpp"

namespace sluice::projections {
namespace {

// Each field with its length first, so that no two lists of fields hash the same text.
std::string hash_fields(const std::vector<std::string>& fields) {
    std::string text;
    for (const auto& f : fields)
        text.append(std::to_string(f.size())).append(":").append(f).append("\n");
    return sql::text_hash(text);
}

}  // namespace

Definition definition_of(const config::Projection& projection) {
    // Handlers by event type: their order in the file changes nothing.
    std::vector<std::pair<std::string, std::string>> handlers;
    for (const auto& h : projection.handlers)
        handlers.emplace_back(h.event_type, h.sql);
    std::sort(handlers.begin(), handlers.end());
    std::vector<std::string> handler_fields;
    for (auto& [type, sql] : handlers) {
        handler_fields.push_back(std::move(type));
        handler_fields.push_back(std::move(sql));
    }
    std::vector<std::string> filters = projection.aggregate_types;
    std::sort(filters.begin(), filters.end());
    filters.insert(filters.begin(), "aggregate_types");

    boost::json::object parts;
    parts["setup"] = hash_fields({projection.setup});
    parts["handlers"] = hash_fields(handler_fields);
    parts["filters"] = hash_fields(filters);
    parts["partitions"] = projection.partitions;
    parts["schema"] = hash_fields({projection.schema});
    const std::string text = boost::json::serialize(parts);
    return {hash_fields({"sluice projection definition 1", text}), text};
}

std::vector<std::string> changed_parts(std::string_view stored_fingerprint,
                                       std::string_view stored_parts, const Definition& current) {
    if (stored_fingerprint == current.fingerprint)
        return {};
    boost::system::error_code ec;
    const auto stored = boost::json::parse(stored_parts, ec);
    const auto now = boost::json::parse(current.parts);
    std::vector<std::string> changed;
    for (const auto& [key, value] : now.as_object()) {
        const auto* was = !ec && stored.is_object() ? stored.as_object().if_contains(key) : nullptr;
        if (was == nullptr || *was != value)
            changed.emplace_back(key);
    }
    // Same parts, another fingerprint: the way it is computed changed.
    if (changed.empty())
        changed.emplace_back("definition");
    return changed;
}

}  // namespace sluice::projections
