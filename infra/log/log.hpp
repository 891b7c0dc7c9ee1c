// Structured logging: one logfmt line per event of note on stderr, e.g.
//   ts=2026-11-23T12:00:00.042Z level=warn projection=order_summary event_id=42 msg="failed"
// When stderr is the systemd journal (JOURNAL_STREAM matches stderr), each line starts with a
// syslog priority prefix such as <4> instead of ts= (the journal stamps every line itself).
// Thread-safe: a line is written with a single write(2). Never pass secrets (database passwords,
// webhook secrets) as field values.
#pragma once

#include <chrono>
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

// `at` in RFC 3339, UTC, to the millisecond: 2026-11-23T12:00:00.042Z.
[[nodiscard]] std::string rfc3339_utc(std::chrono::system_clock::time_point at);

// Pure: the line that write() would emit at time `at`, without the trailing newline. For the
// journal: the priority prefix and no timestamp; otherwise `ts=<rfc3339_utc(at)>` first.
[[nodiscard]] std::string format_line(Level level, std::string_view msg, Fields fields,
                                      bool journal_prefix,
                                      std::chrono::system_clock::time_point at);

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
