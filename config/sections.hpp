// Internal to sluice_config: one conversion function per configuration struct. Each takes the
// YAML node of its section, fills the struct (which starts at its defaults) and reports every
// problem through the Reader; none of them throws for bad input.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>

#include "config/config.hpp"
#include "config/reader.hpp"

namespace sluice::config {

void read_database(Reader& r, const YAML::Node& node, Database& out);
void read_tailer(Reader& r, const YAML::Node& node, Tailer& out);
void read_coordination(Reader& r, const YAML::Node& node, Coordination& out);
void read_outbox(Reader& r, const YAML::Node& node, Outbox& out);
void read_http(Reader& r, const YAML::Node& node, Http& out);
void read_log(Reader& r, const YAML::Node& node, Log& out);

void read_projection(Reader& r, const YAML::Node& node, std::size_t index, Projection& out);
// `quarantine`: whether `then: quarantine` is allowed (projections only: it needs the
// per-aggregate check inside their apply functions).
void read_on_error(Reader& r, const YAML::Node& node, const std::string& scope, OnError& out,
                   bool quarantine);
void read_handler(Reader& r, const YAML::Node& key, const YAML::Node& sql,
                  const std::string& projection_scope, Handler& out);

// Reports every :name in `text` that is not an event parameter, at its place in the file.
void check_event_params(Reader& r, const ScalarText& text, const std::string& scope);
void read_snapshot(Reader& r, const YAML::Node& node, std::size_t index, Snapshot& out);
void read_upcaster(Reader& r, const YAML::Node& node, std::size_t index, Upcaster& out);

void read_webhook(Reader& r, const YAML::Node& node, std::size_t index, Webhook& out);
void read_retry(Reader& r, const YAML::Node& node, const std::string& scope, Retry& out);
void read_tls(Reader& r, const YAML::Node& node, const std::string& scope, Tls& out);
void read_circuit(Reader& r, const YAML::Node& node, const std::string& scope, Circuit& out);
void read_batch(Reader& r, const YAML::Node& node, const std::string& scope, Batch& out);

void read_config(Reader& r, const YAML::Node& root, Config& out);

// "projection 'orders'" when the item has a usable name, else "projections[2]".
[[nodiscard]] std::string item_scope(const YAML::Node& node, std::string_view kind,
                                     std::string_view list, std::size_t index);
// Starts reading one list item: records where it is and checks that it is a mapping with only
// `keys`. False (after reporting) when there is nothing more to read.
bool open_item(Reader& r, const YAML::Node& node, const std::string& scope,
               std::initializer_list<std::string_view> keys, Location& location);
// An SQL expression is one statement: a ';' at the top level would end the assignment it is
// embedded in and let the rest run as a statement of its own. False for blank text too.
[[nodiscard]] bool is_one_expression(const ScalarText& text);
// Reads and checks the item's required `name`.
void read_item_name(Reader& r, const YAML::Node& node, const std::string& scope, std::string& name);

}  // namespace sluice::config
