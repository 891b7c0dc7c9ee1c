// W3C Trace Context (https://www.w3.org/TR/trace-context/) carried from an event to its webhook
// request: when the event's metadata has a string `traceparent` (and optionally `tracestate`),
// the request carries them as headers, so the receiver's trace joins the writer's.
// Pure. Error policy: never throws; a value that is not valid per the specification is left out
// (a malformed traceparent drops tracestate too, as the specification asks).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::outbox {

// The traceparent and tracestate headers for an event's metadata (JSON text), in that order;
// empty when the metadata has no valid traceparent.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> trace_headers(
    std::string_view metadata_json);

// True for "00-<32 hex>-<16 hex>-<2 hex>" (lower-case hex, version not ff, trace and parent ids
// not all zeros); a future version may append "-..." fields after the four.
[[nodiscard]] bool valid_traceparent(std::string_view value);

}  // namespace sluice::outbox
