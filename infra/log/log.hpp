// Structured logging: one logfmt line per event of note on stderr, e.g.
//   level=warn projection=order_summary event_id=42 msg="handler failed"
// When stderr is the systemd journal (JOURNAL_STREAM matches stderr), each line starts with a
// syslog priority prefix such as <4>. Thread-safe: a line is written with a single write(2).
// Never pass secrets (database passwords, webhook secrets) as field values.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::log {

enum class Level { debug, info, warn, error };

struct Field {
    std::string_view key;
    std::string value;

    Field(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
    Field(std::string_view k, const char* v) : key(k), value(v) {}
    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    template <class Number>
    requires std::is_arithmetic_v<Number> Field(std::string_view k, Number v)
        : key(k), value(std::to_string(v)) {}
};

using Fields = std::initializer_list<Field>;

[[nodiscard]] std::optional<Level> parse_level(std::string_view text);
void set_level(Level level);
[[nodiscard]] bool enabled(Level level);

// Pure: the line that write() would emit, without the trailing newline.
[[nodiscard]] std::string format_line(Level level, std::string_view msg, Fields fields,
                                      bool journal_prefix);

void write(Level level, std::string_view msg, Fields fields = {});

inline void debug(std::string_view msg, Fields fields = {}) {
    write(Level::debug, msg, fields);
}
inline void info(std::string_view msg, Fields fields = {}) {
    write(Level::info, msg, fields);
}
inline void warn(std::string_view msg, Fields fields = {}) {
    write(Level::warn, msg, fields);
}
inline void error(std::string_view msg, Fields fields = {}) {
    write(Level::error, msg, fields);
}

}  // namespace sluice::log
