// Entry points: parse YAML, convert every section, then check what spans sections (names unique
// across projections and webhooks, configurations that can never do anything).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/contradictions.hpp"
#include "config/sections.hpp"

extern char** environ;  // NOLINT: POSIX provides no header declaration

namespace sluice::config {
namespace {

// Names share one namespace because both become parts of SQL identifiers in the same schema.
void check_unique_names(Reader& r, const YAML::Node& root, const Config& config) {
    struct FirstUse {
        std::string kind;
        Location where;
    };
    std::map<std::string, FirstUse, std::less<>> used;
    auto check = [&](const std::string& name, std::string_view kind, const YAML::Node& item) {
        if (name.empty()) {
            return;
        }
        const auto name_node = Reader::value_of(item, "name");
        const auto where = r.at(name_node.IsDefined() ? name_node : item);
        const auto [it, inserted] = used.try_emplace(name, FirstUse{std::string(kind), where});
        if (!inserted) {
            r.error(where, "duplicate name '" + name + "': " + it->second.kind + " '" + name +
                               "' at line " + std::to_string(it->second.where.line) +
                               " already uses it (names must be unique across projections and "
                               "webhooks)");
        }
    };
    const auto projections = Reader::value_of(root, "projections");
    for (std::size_t i = 0; i < config.projections.size(); ++i) {
        check(config.projections[i].name, "projection", projections[i]);
    }
    const auto webhooks = Reader::value_of(root, "webhooks");
    for (std::size_t i = 0; i < config.webhooks.size(); ++i) {
        check(config.webhooks[i].name, "webhook", webhooks[i]);
    }
    // One fold per aggregate type: two would install the same fold function twice.
    const auto snapshots = Reader::value_of(root, "snapshots");
    std::map<std::string, int, std::less<>> fold_lines;
    for (std::size_t i = 0; i < config.snapshots.size(); ++i) {
        const auto& type = config.snapshots[i].aggregate_type;
        const auto where = r.at(Reader::value_of(snapshots[i], "aggregate_type"));
        const auto [it, inserted] = fold_lines.try_emplace(type, where.line);
        if (!type.empty() && !inserted) {
            r.error(where, "duplicate snapshots for aggregate type '" + type + "': line " +
                               std::to_string(it->second) + " already defines its fold");
        }
    }
}

// A webhook's notify names another configured webhook (operational events about an endpoint go
// elsewhere: the failing endpoint cannot be told about its own failure).
void check_notify_targets(Reader& r, const Config& config) {
    std::set<std::string, std::less<>> webhooks;
    for (const auto& w : config.webhooks) {
        webhooks.insert(w.name);
    }
    for (const auto& w : config.webhooks) {
        if (w.notify.empty()) {
            continue;
        }
        const std::string scope = "notify in webhook '" + w.name + "': ";
        if (w.notify == w.name) {
            r.error(w.notify_location, scope +
                                           "a webhook cannot announce its own failures to itself "
                                           "(name another webhook)");
        } else if (!webhooks.contains(w.notify)) {
            r.error(w.notify_location, scope + "no webhook is named '" + w.notify + "'");
        }
    }
}

// In a flow collection ([a, b] or {k: v}) '{' and '}' are syntax, so ${VAR} must be quoted
// there; yaml-cpp's own message does not say so.
std::size_t line_start(std::string_view text, int line) {
    std::size_t start = 0;
    for (int i = 0; i < line && start != std::string_view::npos; ++i) {
        start = text.find('\n', start);
        start = start == std::string_view::npos ? start : start + 1;
    }
    return start;
}

std::string flow_hint(std::string_view text, int line) {
    const std::size_t start = line_start(text, line);
    if (start == std::string_view::npos) {
        return {};
    }
    const auto content = text.substr(start, text.find('\n', start) - start);
    const auto expansion = content.find("${");
    const auto flow_start = content.find_first_of("[{");
    if (expansion == std::string_view::npos || flow_start > expansion) {
        return {};  // no ${ on the line, or no collection opened before it
    }
    return " (inside [ ] or { }, write a value that uses ${VAR} in quotes: \"${VAR}\")";
}

// yaml-cpp reports an unclosed [ or { where it gave up looking, often the next line. The place
// to fix is the bracket itself: the innermost one still open before that point (quotes and
// comments skipped). Lines and columns are 1-based; nullopt when none is open.
std::optional<std::pair<int, int>> unclosed_flow(std::string_view text, int error_line) {
    std::vector<std::pair<int, int>> open;
    int line = 1;
    int column = 0;
    char quote = 0;
    bool comment = false;
    char previous = '\n';
    for (char c : text) {
        ++column;
        if (c == '\n') {
            if (line > error_line)
                break;
            ++line;
            column = 0;
            comment = false;
            previous = c;
            continue;
        }
        if (comment) {
        } else if (quote != 0) {
            if (c == quote)
                quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '#' && (previous == ' ' || previous == '\t' || previous == '\n')) {
            comment = true;
        } else if (c == '[' || c == '{') {
            open.emplace_back(line, column);
        } else if ((c == ']' || c == '}') && !open.empty()) {
            open.pop_back();
        }
        previous = c;
    }
    if (open.empty())
        return std::nullopt;
    return open.back();
}

// Top to bottom reads best; problems without a line (a missing file) come first.
void sort_by_position(std::vector<Diagnostic>& errors) {
    std::stable_sort(errors.begin(), errors.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
    });
}

}  // namespace

void read_config(Reader& r, const YAML::Node& root, Config& out) {
    if (!root.IsDefined() || root.IsNull()) {
        r.error({r.file()}, "the configuration is empty (at least database.url is required)");
        return;
    }
    if (!r.expect_mapping(root, "",
                          {"database", "tailer", "coordination", "projections", "webhooks",
                           "snapshots", "upcasters", "outbox", "http", "log"})) {
        return;
    }
    const auto database = Reader::value_of(root, "database");
    if (!database.IsDefined()) {
        r.error(r.at(root), "database: required (at least database.url)");
    } else if (database.IsNull()) {
        r.error(r.at(Reader::key_of(root, "database")),
                "url in database: required (or url_file naming a file that holds it)");
    } else {
        read_database(r, database, out.database);
    }
    read_tailer(r, Reader::value_of(root, "tailer"), out.tailer);
    read_coordination(r, Reader::value_of(root, "coordination"), out.coordination);
    read_outbox(r, Reader::value_of(root, "outbox"), out.outbox);
    const auto errors_before_http = r.error_count();
    read_http(r, Reader::value_of(root, "http"), out.http);
    const bool http_read = r.error_count() == errors_before_http;
    read_log(r, Reader::value_of(root, "log"), out.log);
    r.for_each_item(root, "projections", "", [&](const YAML::Node& item, std::size_t i) {
        read_projection(r, item, i, out.projections.emplace_back());
    });
    r.for_each_item(root, "webhooks", "", [&](const YAML::Node& item, std::size_t i) {
        read_webhook(r, item, i, out.webhooks.emplace_back());
    });
    r.for_each_item(root, "snapshots", "", [&](const YAML::Node& item, std::size_t i) {
        read_snapshot(r, item, i, out.snapshots.emplace_back());
    });
    r.for_each_item(root, "upcasters", "", [&](const YAML::Node& item, std::size_t i) {
        read_upcaster(r, item, i, out.upcasters.emplace_back());
    });
    check_unique_names(r, root, out);
    check_notify_targets(r, out);
    check_contradictions(r, root, out, http_read);
}

std::string format(const Diagnostic& d) {
    std::string out = d.where.file;
    if (d.where.line > 0) {
        out.append(":").append(std::to_string(d.where.line));
        if (d.where.column > 0) {
            out.append(":").append(std::to_string(d.where.column));
        }
    }
    if (!out.empty()) {
        out.append(": ");
    }
    return out.append(d.message);
}

Environment process_environment() {
    Environment env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view kv(*entry);
        const auto eq = kv.find('=');
        if (eq != std::string_view::npos) {
            env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
        }
    }
    return env;
}

LoadResult load_string(const std::string& text, const std::string& file_name,
                       const Environment& env) {
    Reader reader(file_name, text, env);
    YAML::Node root;
    try {
        root = YAML::Load(reader.parse_text());
    } catch (const YAML::ParserException& e) {
        const bool flow_not_closed = e.msg.find("flow not found") != std::string::npos;
        if (const auto opened =
                flow_not_closed ? unclosed_flow(text, e.mark.line + 1) : std::nullopt) {
            const auto [line, column] = *opened;
            const char bracket = text[line_start(text, line - 1) + column - 1];
            reader.error({file_name, line, column},
                         std::string("'") + bracket + "' is never closed (" + e.msg + ")");
        } else {
            reader.error({file_name, e.mark.line + 1, e.mark.column + 1},
                         e.msg + flow_hint(text, e.mark.line));
        }
        return {std::nullopt, reader.take_diagnostics()};
    } catch (const YAML::Exception& e) {
        reader.error({file_name, e.mark.is_null() ? 0 : e.mark.line + 1,
                      e.mark.is_null() ? 0 : e.mark.column + 1},
                     e.msg);
        return {std::nullopt, reader.take_diagnostics()};
    }
    Config config;
    config.source_file = file_name;
    read_config(reader, root, config);
    auto errors = reader.take_diagnostics();
    sort_by_position(errors);
    if (!errors.empty()) {
        return {std::nullopt, std::move(errors)};
    }
    return {std::move(config), {}};
}

LoadResult load_file(const std::string& path, const Environment& env) {
    // Built step by step: brace-initialising the nested structs trips GCC 12's
    // -Wmaybe-uninitialized at -O3.
    auto unreadable = [&](std::string message) {
        LoadResult result;
        Diagnostic d;
        d.where.file = path;
        d.message = std::move(message);
        result.errors.push_back(std::move(d));
        return result;
    };
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int err = errno;
        return unreadable("cannot read configuration file: " + std::string(std::strerror(err)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
        return unreadable("cannot read configuration file");
    return load_string(text.str(), path, env);
}

}  // namespace sluice::config
