#include "config/reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "config/env_expand.hpp"
#include "config/units.hpp"

namespace sluice::config {
namespace {

constexpr std::size_t max_credential_file_bytes = 64 * 1024;

std::string field_message(std::string_view key, std::string_view scope, std::string_view problem) {
    std::string out(key);
    if (!scope.empty()) {
        out.append(" in ").append(scope);
    }
    out.append(": ").append(problem);
    return out;
}

std::string join(std::initializer_list<std::string_view> names) {
    std::string out;
    for (const auto name : names) {
        if (!out.empty()) {
            out.append(", ");
        }
        out.append(name);
    }
    return out;
}

std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(first, last - first + 1));
}

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

std::string_view describe_kind(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Scalar:
            return "a scalar";
        case YAML::NodeType::Null:
            return "nothing";
        default:
            return "an undefined value";
    }
}

Reader::Reader(std::string file, std::string_view text, const Environment& env)
    : file_(std::move(file)), source_(text), env_(env), masked_(mask_expansions(text)) {}

Location Reader::at(const YAML::Node& node) const {
    const auto mark = node.Mark();
    if (mark.is_null()) {
        return {file_, 0, 0};
    }
    return {file_, mark.line + 1, mark.column + 1};
}

Location Reader::at(const ScalarText& scalar, std::size_t offset) const {
    const auto mark = scalar.node.Mark();
    if (mark.is_null() || scalar.origin.empty()) {
        return at(scalar.node);
    }
    const auto origin = scalar.origin[std::min(offset, scalar.origin.size() - 1)];
    const auto pos = source_.locate(mark.line, mark.column, scalar.node.Scalar(), origin);
    return {file_, pos.line, pos.column};
}

void Reader::error(Location where, std::string message) {
    diagnostics_.push_back({std::move(where), std::move(message)});
}

void Reader::field_error(const YAML::Node& node, std::string_view key, std::string_view scope,
                         const std::string& problem) {
    error(at(node), field_message(key, scope, problem));
}

YAML::Node Reader::value_of(const YAML::Node& map, std::string_view key) {
    if (map.IsMap()) {
        for (const auto& entry : map) {
            if (entry.first.IsScalar() && entry.first.Scalar() == key) {
                return entry.second;
            }
        }
    }
    return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node Reader::key_of(const YAML::Node& map, std::string_view key) {
    if (map.IsMap()) {
        for (const auto& entry : map) {
            if (entry.first.IsScalar() && entry.first.Scalar() == key) {
                return entry.first;
            }
        }
    }
    return map;
}

bool Reader::expect_mapping(const YAML::Node& node, std::string_view scope,
                            std::initializer_list<std::string_view> allowed) {
    return check_mapping(node, scope, &allowed);
}

bool Reader::expect_free_mapping(const YAML::Node& node, std::string_view scope) {
    return check_mapping(node, scope, nullptr);
}

bool Reader::check_mapping(const YAML::Node& node, std::string_view scope,
                           const std::initializer_list<std::string_view>* allowed) {
    if (!node.IsDefined() || node.IsNull()) {
        return true;
    }
    if (!node.IsMap()) {
        error(at(node), std::string(scope.empty() ? "the configuration" : scope) +
                            ": expected a mapping, got " + std::string(describe_kind(node)));
        return false;
    }
    const std::string where = scope.empty() ? "at the top level" : "in " + std::string(scope);
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
            error(at(entry.first), "keys " + where + " must be names, got " +
                                       std::string(describe_kind(entry.first)));
            continue;
        }
        const auto& key = entry.first.Scalar();
        if (!seen.insert(key).second) {
            error(at(entry.first), "duplicate key '" + key + "' " + where);
            continue;
        }
        if (allowed != nullptr &&
            std::find(allowed->begin(), allowed->end(), key) == allowed->end()) {
            error(at(entry.first), "unknown key '" + key + "' " + where +
                                       " (expected one of: " + join(*allowed) + ")");
        }
    }
    return true;
}

std::optional<ScalarText> Reader::scalar(const YAML::Node& node, std::string_view key,
                                         std::string_view scope) {
    if (node.IsNull()) {
        field_error(node, key, scope, "missing value");
        return std::nullopt;
    }
    if (!node.IsScalar()) {
        field_error(node, key, scope,
                    "expected a single value, got " + std::string(describe_kind(node)));
        return std::nullopt;
    }
    const std::string raw = unmask(node.Scalar(), masked_);
    auto expanded = expand_env(raw, env_);
    ScalarText result{std::move(expanded.text), std::move(expanded.origin), node};
    if (!expanded.problems.empty()) {
        for (const auto& problem : expanded.problems) {
            const auto pos =
                source_.locate(node.Mark().line, node.Mark().column, raw, problem.offset);
            error({file_, pos.line, pos.column}, field_message(key, scope, problem.message));
        }
        return std::nullopt;
    }
    return result;
}

std::optional<ScalarText> Reader::field_scalar(const YAML::Node& map, std::string_view key,
                                               std::string_view scope) {
    const auto node = value_of(map, key);
    if (!node.IsDefined()) {
        return std::nullopt;
    }
    if (node.IsNull()) {
        field_error(key_of(map, key), key, scope, "missing value");
        return std::nullopt;
    }
    return scalar(node, key, scope);
}

bool Reader::read(const YAML::Node& map, std::string_view key, std::string_view scope,
                  std::string& out) {
    auto s = field_scalar(map, key, scope);
    if (!s) {
        return false;
    }
    out = std::move(s->text);
    return true;
}

bool Reader::read(const YAML::Node& map, std::string_view key, std::string_view scope, bool& out) {
    const auto parsed = parsed_field(map, key, scope, parse_bool);
    if (!parsed) {
        return false;
    }
    out = parsed->value;
    return true;
}

bool Reader::read(const YAML::Node& map, std::string_view key, std::string_view scope, int& out,
                  long long min, long long max) {
    const auto parsed = parsed_field(map, key, scope, parse_integer);
    if (!parsed) {
        return false;
    }
    if (parsed->value < min || parsed->value > max) {
        field_error(parsed->node, key, scope,
                    "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                        ", got " + std::to_string(parsed->value));
        return false;
    }
    out = static_cast<int>(parsed->value);
    return true;
}

bool Reader::read(const YAML::Node& map, std::string_view key, std::string_view scope,
                  Duration& out, Duration min) {
    const auto parsed = parsed_field(map, key, scope, parse_duration);
    if (!parsed) {
        return false;
    }
    if (parsed->value < min) {
        field_error(parsed->node, key, scope,
                    min == Duration(1) ? "must be greater than zero"
                                       : "must be at least " + format_duration(min));
        return false;
    }
    out = parsed->value;
    return true;
}

bool Reader::read_size(const YAML::Node& map, std::string_view key, std::string_view scope,
                       std::size_t& out, std::size_t min, std::size_t max) {
    const auto parsed = parsed_field(map, key, scope, parse_size);
    if (!parsed) {
        return false;
    }
    if (parsed->value < min || parsed->value > max) {
        field_error(parsed->node, key, scope,
                    "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                        " bytes, got " + std::to_string(parsed->value));
        return false;
    }
    out = parsed->value;
    return true;
}

bool Reader::read_fraction(const YAML::Node& map, std::string_view key, std::string_view scope,
                           double& out) {
    const auto parsed = parsed_field(map, key, scope, parse_fraction);
    if (!parsed) {
        return false;
    }
    out = parsed->value;
    return true;
}

bool Reader::read_rate(const YAML::Node& map, std::string_view key, std::string_view scope,
                       double& per_second) {
    const auto parsed = parsed_field(map, key, scope, parse_rate);
    if (!parsed) {
        return false;
    }
    per_second = parsed->value;
    return true;
}

bool Reader::read(const YAML::Node& map, std::string_view key, std::string_view scope,
                  std::vector<std::string>& out) {
    const auto node = value_of(map, key);
    if (!node.IsDefined()) {
        return false;
    }
    if (!node.IsSequence()) {
        field_error(node.IsNull() ? key_of(map, key) : node, key, scope,
                    "expected a list, got " + std::string(describe_kind(node)));
        return false;
    }
    const auto before = error_count();
    std::vector<std::string> items;
    std::size_t index = 0;
    for (const auto& item : node) {
        const std::string item_key = std::string(key) + "[" + std::to_string(index++) + "]";
        auto s = scalar(item, item_key, scope);
        if (s && s->text.empty()) {
            field_error(item, item_key, scope, "must not be empty");
        } else if (s) {
            items.push_back(std::move(s->text));
        }
    }
    if (error_count() != before) {
        return false;
    }
    out = std::move(items);
    return true;
}

bool Reader::read_choice(const YAML::Node& map, std::string_view key, std::string_view scope,
                         std::initializer_list<std::string_view> choices, std::size_t& index) {
    const auto s = field_scalar(map, key, scope);
    if (!s) {
        return false;
    }
    const auto it = std::find(choices.begin(), choices.end(), s->text);
    if (it == choices.end()) {
        field_error(s->node, key, scope,
                    "expected one of " + join(choices) + ", got '" + s->text + "'");
        return false;
    }
    index = static_cast<std::size_t>(it - choices.begin());
    return true;
}

void Reader::for_each_item(const YAML::Node& map, std::string_view key, std::string_view scope,
                           const std::function<void(const YAML::Node&, std::size_t)>& each) {
    const auto node = value_of(map, key);
    if (!node.IsDefined() || node.IsNull()) {
        return;
    }
    if (!node.IsSequence()) {
        field_error(node, key, scope, "expected a list, got " + std::string(describe_kind(node)));
        return;
    }
    std::size_t index = 0;
    for (const auto& item : node) {
        each(item, index++);
    }
}

std::string Reader::resolve_path(const std::string& path) const {
    const std::filesystem::path p(path);
    if (path.empty() || p.is_absolute()) {
        return path;
    }
    const auto dir = std::filesystem::path(file_).parent_path();
    return dir.empty() ? path : (dir / p).lexically_normal().string();
}

std::optional<std::string> Reader::read_file(const ScalarText& path, std::string_view key,
                                             std::string_view scope) {
    if (path.text.empty()) {
        field_error(path.node, key, scope, "missing file name");
        return std::nullopt;
    }
    const auto resolved = resolve_path(path.text);
    errno = 0;
    const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(resolved.c_str(), "rb"));
    if (!file) {
        field_error(path.node, key, scope,
                    "cannot read '" + resolved + "': " + std::strerror(errno));
        return std::nullopt;
    }
    std::string content(max_credential_file_bytes + 1, '\0');
    const auto n = std::fread(content.data(), 1, content.size(), file.get());
    if (std::ferror(file.get()) != 0) {
        field_error(path.node, key, scope, "cannot read '" + resolved + "'");
        return std::nullopt;
    }
    if (n > max_credential_file_bytes) {
        field_error(path.node, key, scope,
                    "'" + resolved + "' is larger than " +
                        std::to_string(max_credential_file_bytes) + " bytes");
        return std::nullopt;
    }
    content.resize(n);
    auto trimmed = trim(content);
    if (trimmed.empty()) {
        field_error(path.node, key, scope, "'" + resolved + "' is empty");
        return std::nullopt;
    }
    return trimmed;
}

}  // namespace sluice::config
