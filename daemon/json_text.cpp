#include "daemon/json_text.hpp"

#include <array>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>

namespace sluice::daemon {

namespace json = boost::json;

namespace {

void write(std::string& out, const json::value& value);

void write_string(std::string& out, json::string_view text) {
    out += json::serialize(json::string(text));
}

void write(std::string& out, const json::value& value) {
    switch (value.kind()) {
        case json::kind::double_:
            out += plain_decimal(value.get_double());
            return;
        case json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& [key, member] : value.get_object()) {
                if (!first)
                    out += ',';
                first = false;
                write_string(out, key);
                out += ':';
                write(out, member);
            }
            out += '}';
            return;
        }
        case json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& element : value.get_array()) {
                if (!first)
                    out += ',';
                first = false;
                write(out, element);
            }
            out += ']';
            return;
        }
        default:
            out += json::serialize(value);
    }
}

}  // namespace

std::string plain_decimal(double value) {
    if (!std::isfinite(value))
        return "null";
    // The shortest fixed-notation text that reads back as the same double.
    std::array<char, 400> buffer{};
    auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                   std::chars_format::fixed);
    std::string text(buffer.data(), ec == std::errc() ? end : buffer.data());
    if (text.find('.') == std::string::npos)
        text += ".0";
    return text;
}

std::string json_text(const json::value& value) {
    std::string out;
    write(out, value);
    return out;
}

}  // namespace sluice::daemon
