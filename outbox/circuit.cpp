#include "outbox/circuit.hpp"

#include <algorithm>

namespace sluice::outbox {

std::string_view circuit_state_name(CircuitState state) {
    switch (state) {
        case CircuitState::closed:
            return "closed";
        case CircuitState::open:
            return "open";
        case CircuitState::half_open:
            return "half_open";
    }
    return "closed";
}

bool Circuit::may_send(Clock::time_point now) const {
    switch (state_) {
        case CircuitState::closed:
            return true;
        case CircuitState::open:
            return now >= reopens_at_;
        case CircuitState::half_open:
            return !probe_outstanding_;
    }
    return true;
}

Circuit::Admission Circuit::admit(Clock::time_point now) {
    if (state_ == CircuitState::closed)
        return Admission::send;
    if (!may_send(now))
        return Admission::wait;
    state_ = CircuitState::half_open;
    probe_outstanding_ = true;
    return Admission::probe;
}

std::optional<CircuitState> Circuit::record(bool success, bool probe, Clock::time_point now) {
    if (state_ == CircuitState::closed) {
        failures_ = success ? 0 : failures_ + 1;
        if (failures_ < settings_.failures)
            return std::nullopt;
        state_ = CircuitState::open;
        cool_down_ = settings_.cool_down;
        reopens_at_ = now + cool_down_;
        return state_;
    }
    if (!probe)
        return std::nullopt;  // sent before the circuit opened: says nothing about now
    probe_outstanding_ = false;
    if (success) {
        state_ = CircuitState::closed;
        failures_ = 0;
        cool_down_ = settings_.cool_down;
        return state_;
    }
    state_ = CircuitState::open;
    cool_down_ = std::min(cool_down_ * 2, settings_.max_cool_down);
    reopens_at_ = now + cool_down_;
    return state_;
}

}  // namespace sluice::outbox
