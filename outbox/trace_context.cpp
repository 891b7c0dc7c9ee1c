#include "outbox/trace_context.hpp"

#include <boost/json/parse.hpp>

namespace sluice::outbox {
namespace {

// tracestate: at most 32 list members of at most 256 characters each; 512 characters is what
// the specification asks every vendor to propagate.
constexpr std::size_t tracestate_limit = 512;

bool lower_hex(std::string_view s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

bool all_zeros(std::string_view s) {
    return s.find_first_not_of('0') == std::string_view::npos;
}

// Printable ASCII only: nothing that could end or split a header line.
bool valid_tracestate(std::string_view value) {
    if (value.empty() || value.size() > tracestate_limit)
        return false;
    for (char c : value) {
        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

}  // namespace

bool valid_traceparent(std::string_view v) {
    // version "-" trace-id "-" parent-id "-" flags
    if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
        return false;
    const std::string_view version = v.substr(0, 2);
    const std::string_view trace_id = v.substr(3, 32);
    const std::string_view parent_id = v.substr(36, 16);
    const std::string_view flags = v.substr(53, 2);
    if (!lower_hex(version) || !lower_hex(trace_id) || !lower_hex(parent_id) || !lower_hex(flags))
        return false;
    if (version == "ff" || all_zeros(trace_id) || all_zeros(parent_id))
        return false;
    // Version 00 has exactly four fields; a later version may add more after a '-'.
    if (version == "00")
        return v.size() == 55;
    return v.size() == 55 || v[55] == '-';
}

std::vector<std::pair<std::string, std::string>> trace_headers(std::string_view metadata_json) {
    std::vector<std::pair<std::string, std::string>> headers;
    // Most events carry no trace: skip the parse.
    if (metadata_json.find("traceparent") == std::string_view::npos)
        return headers;
    boost::system::error_code ec;
    auto metadata = boost::json::parse(metadata_json, ec);
    if (ec || !metadata.is_object())
        return headers;
    const auto& object = metadata.get_object();
    const auto* parent = object.if_contains("traceparent");
    if (parent == nullptr || !parent->is_string() || !valid_traceparent(parent->get_string()))
        return headers;
    headers.emplace_back("traceparent", std::string(parent->get_string()));
    const auto* state = object.if_contains("tracestate");
    if (state != nullptr && state->is_string() && valid_tracestate(state->get_string()))
        headers.emplace_back("tracestate", std::string(state->get_string()));
    return headers;
}

}  // namespace sluice::outbox
