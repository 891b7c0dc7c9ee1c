// Internal to sluice_config: the state shared by the per-section conversion functions while one
// file is loaded (file name, raw text for exact positions, environment, collected diagnostics)
// and typed field readers. Every reader reports problems as "<key> in <scope>: <problem>" at the
// value's file position and leaves the field at its default, so loading goes on and all problems
// are reported at once. Values of fields may be secrets: messages quote a value only when it is a
// number, duration, size, enum or name, never a URL, secret or header value.
// Error policy: never throws for bad input.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/env_expand.hpp"
#include "config/source_text.hpp"
#include "config/units.hpp"

namespace sluice::config {

// A scalar's text after ${VAR} expansion; origin maps each byte back to the unexpanded value.
struct ScalarText {
    std::string text;
    std::vector<std::size_t> origin;
    YAML::Node node;
};

class Reader {
  public:
    Reader(std::string file, std::string_view text, const Environment& env);
    // The text to hand to the YAML parser: ${...} masked so it parses inside [ ] and { }.
    [[nodiscard]] const std::string& parse_text() const { return masked_.text; }

    [[nodiscard]] const std::string& file() const { return file_; }

    // Where a node starts, or where byte `offset` of its expanded scalar text sits in the file.
    [[nodiscard]] Location at(const YAML::Node& node) const;
    [[nodiscard]] Location at(const ScalarText& scalar, std::size_t offset) const;

    void error(Location where, std::string message);
    [[nodiscard]] std::size_t error_count() const { return diagnostics_.size(); }
    [[nodiscard]] std::vector<Diagnostic> take_diagnostics() { return std::move(diagnostics_); }

    // Checks that node is a mapping (null counts as an empty one) whose keys are all in allowed
    // and unique. Returns false, after reporting, when node is not a mapping at all.
    bool expect_mapping(const YAML::Node& node, std::string_view scope,
                        std::initializer_list<std::string_view> allowed);
    // The same for mappings whose keys are free-form (such as headers): unique names only.
    bool expect_free_mapping(const YAML::Node& node, std::string_view scope);

    // The scalar text of a node with ${VAR} expanded; nullopt (reported) for null, non-scalars
    // and failed expansions.
    std::optional<ScalarText> scalar(const YAML::Node& node, std::string_view key,
                                     std::string_view scope);

    // Field readers: when map has key, convert its value into out; otherwise leave out alone.
    // They return true when the key was present and valid.
    bool read(const YAML::Node& map, std::string_view key, std::string_view scope,
              std::string& out);
    bool read(const YAML::Node& map, std::string_view key, std::string_view scope, bool& out);
    bool read(const YAML::Node& map, std::string_view key, std::string_view scope, int& out,
              long long min, long long max);
    bool read(const YAML::Node& map, std::string_view key, std::string_view scope, Duration& out,
              Duration min);
    bool read_size(const YAML::Node& map, std::string_view key, std::string_view scope,
                   std::size_t& out, std::size_t min, std::size_t max);
    bool read_fraction(const YAML::Node& map, std::string_view key, std::string_view scope,
                       double& out);
    bool read_rate(const YAML::Node& map, std::string_view key, std::string_view scope,
                   double& per_second);
    // A list of non-empty strings (a single scalar is not accepted, to keep lists explicit).
    bool read(const YAML::Node& map, std::string_view key, std::string_view scope,
              std::vector<std::string>& out);
    // Reads one of the names in choices; index is the position of the match.
    bool read_choice(const YAML::Node& map, std::string_view key, std::string_view scope,
                     std::initializer_list<std::string_view> choices, std::size_t& index);

    // Calls each(item, index) for every element of the sequence under key; reports non-lists.
    void for_each_item(const YAML::Node& map, std::string_view key, std::string_view scope,
                       const std::function<void(const YAML::Node&, std::size_t)>& each);

    // Reads the file named by a *_file key: trimmed content, never echoed in messages.
    std::optional<std::string> read_file(const ScalarText& path, std::string_view key,
                                         std::string_view scope);

    // A path as written, made absolute relative to the configuration file's directory.
    [[nodiscard]] std::string resolve_path(const std::string& path) const;

    // The value node of key, and the node to point at when talking about the key itself.
    [[nodiscard]] static YAML::Node value_of(const YAML::Node& map, std::string_view key);
    [[nodiscard]] static YAML::Node key_of(const YAML::Node& map, std::string_view key);

    void field_error(const YAML::Node& node, std::string_view key, std::string_view scope,
                     const std::string& problem);

  private:
    bool check_mapping(const YAML::Node& node, std::string_view scope,
                       const std::initializer_list<std::string_view>* allowed);

    // The raw scalar of a present key's value, expanded; nullopt when absent or reported.
    std::optional<ScalarText> field_scalar(const YAML::Node& map, std::string_view key,
                                           std::string_view scope);

    // A present key's value run through `parse` (returning Parsed<T>); its error is reported at
    // the value. nullopt when absent or reported.
    template <class T>
    struct ParsedField {
        T value;
        YAML::Node node;
    };
    template <class Parse>
    auto parsed_field(const YAML::Node& map, std::string_view key, std::string_view scope,
                      Parse parse)
        -> std::optional<ParsedField<typename decltype(parse(std::string_view()))::value_type>> {
        const auto s = field_scalar(map, key, scope);
        if (!s) {
            return std::nullopt;
        }
        auto parsed = parse(s->text);
        if (!parsed.value) {
            field_error(s->node, key, scope, parsed.error);
            return std::nullopt;
        }
        return ParsedField<typename decltype(parsed)::value_type>{*parsed.value, s->node};
    }

    std::string file_;
    SourceText source_;
    const Environment& env_;
    Masked masked_;
    std::vector<Diagnostic> diagnostics_;
};

// "a list", "a mapping", "a string" ...: how a node's kind is named in messages.
[[nodiscard]] std::string_view describe_kind(const YAML::Node& node);

}  // namespace sluice::config
