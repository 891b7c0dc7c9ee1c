// A webhook's circuit breaker, as a pure state machine (the clock is a parameter). Closed: every
// request may start; `failures` consecutive failed attempts open it. Open: nothing may start
// until the cool-down has passed; then it is half-open and admits exactly one request, the
// probe. The probe's success closes it (and the cool-down starts over from its base); its
// failure opens it again for twice the previous cool-down, at most max_cool_down.
// Outcomes of requests that started before the circuit opened (they were in flight) are not
// the probe's: they neither close nor reopen it.
// State lives in one worker's memory: each instance has its own circuit per webhook.
// Threading: none (the worker's event-loop thread). Error policy: nothing throws.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "config/config.hpp"

namespace sluice::outbox {

enum class CircuitState { closed, open, half_open };

// "closed", "open", "half_open": the metrics label and log value.
[[nodiscard]] std::string_view circuit_state_name(CircuitState state);

class Circuit {
  public:
    using Clock = std::chrono::steady_clock;

    explicit Circuit(config::Circuit settings)
        : settings_(settings), cool_down_(settings.cool_down) {}

    enum class Admission {
        send,   // closed: send as usual
        probe,  // half-open: this request is the probe; report its outcome with probe = true
        wait,   // open, or half-open with the probe outstanding: start nothing
    };
    // Whether a request may start now. Moves open to half-open once the cool-down has passed;
    // a `probe` answer marks the probe outstanding until its outcome is recorded.
    [[nodiscard]] Admission admit(Clock::time_point now);

    // Whether admit() could answer send or probe now, without taking the probe.
    [[nodiscard]] bool may_send(Clock::time_point now) const;

    // The probe was admitted but no request was made (its message could not be built): the
    // next admit() may probe again.
    void cancel_probe() { probe_outstanding_ = false; }

    // One attempt's outcome (success = the endpoint answered 2xx). Returns the new state when
    // this outcome changed it.
    std::optional<CircuitState> record(bool success, bool probe, Clock::time_point now);

    [[nodiscard]] CircuitState state() const { return state_; }
    // When an open circuit lets its probe through (meaningful while open).
    [[nodiscard]] Clock::time_point reopens_at() const { return reopens_at_; }
    // The cool-down the circuit waits (or waited) in its current or last open period.
    [[nodiscard]] std::chrono::milliseconds cool_down() const { return cool_down_; }
    [[nodiscard]] int consecutive_failures() const { return failures_; }

  private:
    config::Circuit settings_;
    CircuitState state_ = CircuitState::closed;
    int failures_ = 0;  // consecutive, while closed
    std::chrono::milliseconds cool_down_;
    Clock::time_point reopens_at_{};
    bool probe_outstanding_ = false;
};

}  // namespace sluice::outbox
