#include "infra/sql/sql_template.hpp"

#include <algorithm>
#include <array>

#include "infra/sql/lexer.hpp"

namespace sluice::sql {
namespace {

using detail::is_ident_char;
using detail::is_ident_start;
using detail::skip_non_code;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

struct EventParam {
    std::string_view name;
    std::string_view type;
};

constexpr std::array<EventParam, 9> event_param_table{{
    {"id", "bigint"},
    {"transaction_id", "xid8"},
    {"aggregate_id", "uuid"},
    {"aggregate_type", "text"},
    {"version", "integer"},
    {"event_type", "text"},
    {"payload", "jsonb"},
    {"metadata", "jsonb"},
    {"timestamp", "timestamptz"},
}};

}  // namespace

std::vector<ParamRef> scan_params(std::string_view sql) {
    std::vector<ParamRef> params;
    std::size_t i = 0;
    while (i < sql.size()) {
        if (const auto next = skip_non_code(sql, i); next != i) {
            i = next;
            continue;
        }
        if (sql[i] != ':') {
            // Step over whole identifiers so that E'...' and $tag$ are only seen at word starts.
            if (is_ident_char(sql[i])) {
                while (i < sql.size() && (is_ident_char(sql[i]) || sql[i] == '$')) {
                    ++i;
                }
            } else {
                ++i;
            }
            continue;
        }
        if (i + 1 < sql.size() && sql[i + 1] == ':') {
            i += 2;  // a '::' cast; the type name after it is an ordinary identifier
            continue;
        }
        if (i + 1 < sql.size() && is_ident_start(sql[i + 1])) {
            std::size_t end = i + 2;
            while (end < sql.size() && is_ident_char(sql[end])) {
                ++end;
            }
            params.push_back({std::string(sql.substr(i + 1, end - i - 1)), i, end - i});
            i = end;
            continue;
        }
        ++i;
    }
    return params;
}

std::string substitute_params(std::string_view sql,
                              const std::function<std::string(const ParamRef&)>& replace) {
    std::string out;
    out.reserve(sql.size());
    std::size_t copied = 0;
    for (const auto& ref : scan_params(sql)) {
        out.append(sql.substr(copied, ref.offset - copied));
        out.append(replace(ref));
        copied = ref.offset + ref.length;
    }
    out.append(sql.substr(copied));
    return out;
}

std::vector<Statement> split_statements(std::string_view sql) {
    std::vector<Statement> statements;
    std::size_t start = 0;
    bool has_code = false;  // anything but whitespace and comments since start
    auto finish = [&](std::size_t end) {
        if (has_code) {
            std::size_t b = start;
            std::size_t e = end;
            while (b < e && is_space(sql[b])) {
                ++b;
            }
            while (e > b && is_space(sql[e - 1])) {
                --e;
            }
            statements.push_back({sql.substr(b, e - b), b});
        }
        has_code = false;
    };
    std::size_t i = 0;
    while (i < sql.size()) {
        if (const auto next = skip_non_code(sql, i); next != i) {
            has_code = has_code || !detail::starts_comment(sql, i);
            i = next;
            continue;
        }
        const char c = sql[i];
        if (c == ';') {
            finish(i);
            start = i + 1;
            ++i;
            continue;
        }
        if (!is_space(c)) {
            has_code = true;
        }
        if (is_ident_char(c)) {
            while (i < sql.size() && (is_ident_char(sql[i]) || sql[i] == '$')) {
                ++i;
            }
        } else {
            ++i;
        }
    }
    finish(sql.size());
    return statements;
}

const std::vector<std::string>& event_params() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto& p : event_param_table) {
            v.emplace_back(p.name);
        }
        return v;
    }();
    return names;
}

bool is_event_param(std::string_view name) {
    return !event_param_type(name).empty();
}

std::string_view event_param_type(std::string_view name) {
    const auto it = std::find_if(event_param_table.begin(), event_param_table.end(),
                                 [&](const EventParam& p) { return p.name == name; });
    return it == event_param_table.end() ? std::string_view{} : it->type;
}

}  // namespace sluice::sql
