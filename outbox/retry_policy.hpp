// What to do after one delivery attempt: delivered, retry later (when), dead, or disable the
// endpoint. Pure: the clock and the random source are parameters.
// Error policy: nothing throws; unparseable Retry-After values fall back to the schedule.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sluice::outbox {

// Why an attempt got no HTTP status. none = a status was received.
enum class ErrorKind { none, timeout, network, tls };

// What the endpoint answered to one attempt, or why it did not (outcome_label() gives its
// metrics label).
struct EndpointReply {
    int status = 0;  // 0 when no response
    ErrorKind error = ErrorKind::none;
    std::optional<std::string> retry_after;  // the Retry-After header, verbatim
};

enum class Verdict {
    delivered,  // 2xx
    retry,      // try again after Decision::delay
    dead,       // schedule exhausted
    disable,    // 410 Gone: stop sending to the endpoint; the message stays pending
};

struct Decision {
    Verdict verdict = Verdict::retry;
    std::chrono::milliseconds delay{0};  // for retry only
    std::string_view label;              // metrics label, see outcome_label()
};

// A uniform random number in [0, 1). Injected so tests are deterministic.
using UniformRandom = std::function<double()>;

// The outcome classes of an attempt, the values of the metrics' `outcome` label: the one list
// of them, in the order they are exported.
inline constexpr std::array<std::string_view, 7> outcome_labels = {
    "2xx", "3xx", "4xx", "5xx", "timeout", "network", "tls"};

// One of outcome_labels. A status outside 200..599 (which HTTP/1.1 does not allow as a final
// response) counts as "network".
[[nodiscard]] std::string_view outcome_label(const EndpointReply& outcome);

// Retry-After as seconds ("120") or an IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT"),
// relative to now and clamped to [1s, 1h]. nullopt when it is neither.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

// attempts = attempts made so far, including the one being classified (>= 1). After attempt k
// the next one waits schedule[k-1] ± jitter; once k > schedule.size() the message is dead.
// 429 and 503 with a parseable Retry-After wait for that (clamped) instead, without jitter.
// 3xx is a failure: redirects are never followed.
[[nodiscard]] Decision decide(const EndpointReply& outcome, int attempts,
                              const config::Retry& retry, std::chrono::system_clock::time_point now,
                              const UniformRandom& random);

// base * (1 + jitter * (2u - 1)) for u in [0, 1): within ±jitter of base, never negative.
[[nodiscard]] std::chrono::milliseconds with_jitter(std::chrono::milliseconds base, double jitter,
                                                    double u);

}  // namespace sluice::outbox
