// What every list item (a projection, a webhook) starts with: its scope for messages, its
// location, the mapping check and its name.
#include "config/sections.hpp"
#include "config/validate.hpp"
#include "infra/sql/sql_template.hpp"

namespace sluice::config {

std::string item_scope(const YAML::Node& node, std::string_view kind, std::string_view list,
                       std::size_t index) {
    const auto name = Reader::value_of(node, "name");
    if (name.IsScalar() && check_name(name.Scalar()).empty()) {
        return std::string(kind) + " '" + name.Scalar() + "'";
    }
    return std::string(list) + "[" + std::to_string(index) + "]";
}

bool open_item(Reader& r, const YAML::Node& node, const std::string& scope,
               std::initializer_list<std::string_view> keys, Location& location) {
    location = r.at(node);
    if (node.IsNull()) {
        r.error(r.at(node), scope + ": expected a mapping, got nothing");
        return false;
    }
    return r.expect_mapping(node, scope, keys);
}

void read_item_name(Reader& r, const YAML::Node& node, const std::string& scope,
                    std::string& name) {
    if (!Reader::value_of(node, "name").IsDefined()) {
        r.error(r.at(node), "name in " + scope + ": required");
    } else if (r.read(node, "name", scope, name)) {
        if (const auto problem = check_name(name); !problem.empty()) {
            r.field_error(Reader::value_of(node, "name"), "name", scope, problem);
        }
    }
}

bool is_one_expression(const ScalarText& text) {
    return sql::split_statements(text.text).size() == 1 &&
           text.text.find_first_not_of(" \t\r\n") != std::string::npos;
}

}  // namespace sluice::config
