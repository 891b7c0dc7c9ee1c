#include "infra/log/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace sluice::log {
namespace {

// Atomic, though the daemon is single-threaded: test fixtures log from a second thread while
// the loop thread may change the level.
std::atomic<Level> current_level{Level::info};

bool needs_quotes(std::string_view v) {
    if (v.empty())
        return true;
    for (char c : v) {
        if (c == ' ' || c == '=' || c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
            return true;
    }
    return false;
}

void append_value(std::string& out, std::string_view v) {
    if (!needs_quotes(v)) {
        out += v;
        return;
    }
    out += '"';
    for (char c : v) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += ' ';
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

const char* name(Level level) {
    switch (level) {
        case Level::debug:
            return "debug";
        case Level::info:
            return "info";
        case Level::warn:
            return "warn";
        case Level::error:
            return "error";
    }
    return "info";
}

int syslog_priority(Level level) {
    switch (level) {
        case Level::debug:
            return 7;
        case Level::info:
            return 6;
        case Level::warn:
            return 4;
        case Level::error:
            return 3;
    }
    return 6;
}

// JOURNAL_STREAM is "device:inode" of the journal socket; it only applies if stderr is it.
bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr)
        return false;
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

}  // namespace

std::optional<Level> parse_level(std::string_view text) {
    if (text == "debug")
        return Level::debug;
    if (text == "info")
        return Level::info;
    if (text == "warn" || text == "warning")
        return Level::warn;
    if (text == "error")
        return Level::error;
    return std::nullopt;
}

void set_level(Level level) {
    current_level.store(level);
}

bool enabled(Level level) {
    return level >= current_level.load();
}

std::string rfc3339_utc(std::chrono::system_clock::time_point at) {
    using namespace std::chrono;
    auto seconds = floor<std::chrono::seconds>(at);
    auto millis = duration_cast<milliseconds>(at - seconds).count();
    std::time_t t = system_clock::to_time_t(seconds);
    std::tm utc{};
    gmtime_r(&t, &utc);
    std::array<char, 40> text{};
    int n = std::snprintf(text.data(), text.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                          utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                          utc.tm_sec, static_cast<int>(millis));
    return {text.data(), static_cast<std::size_t>(n)};
}

std::string format_line(Level level, std::string_view msg, Fields fields, bool journal_prefix,
                        std::chrono::system_clock::time_point at) {
    std::string out;
    out.reserve(160);
    if (journal_prefix) {
        out += '<';
        out += std::to_string(syslog_priority(level));
        out += '>';
    } else {
        out += "ts=";
        out += rfc3339_utc(at);
        out += ' ';
    }
    out += "level=";
    out += name(level);
    for (const Field& f : fields) {
        out += ' ';
        out += f.key;
        out += '=';
        append_value(out, f.value);
    }
    out += " msg=";
    append_value(out, msg);
    return out;
}

void write(Level level, std::string_view msg, Fields fields) {
    if (!enabled(level))
        return;
    static const bool journal = stderr_is_journal();
    std::string line = format_line(level, msg, fields, journal, std::chrono::system_clock::now());
    line += '\n';
    // One write(2) per line keeps lines whole when several threads log.
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace sluice::log
