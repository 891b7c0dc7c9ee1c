// What a subscriber reports about itself, for /status, metrics, readiness and logs.
// Threading: written and read only on the event-loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/event_row.hpp"

namespace sluice::engine {

// paused: another session (a rebuild) holds the subscriber; it resumes on its own.
enum class State { starting, running, retrying, paused, stopped };

[[nodiscard]] inline const char* to_string(State s) {
    switch (s) {
        case State::starting:
            return "starting";
        case State::running:
            return "running";
        case State::retrying:
            return "retrying";
        case State::paused:
            return "paused";
        case State::stopped:
            return "stopped";
    }
    return "unknown";
}

struct SubscriberStatus {
    std::string name;
    std::string kind;
    State state = State::starting;
    Position position;
    std::string last_error;  // never contains secrets: SQL errors and connection messages only
    std::string last_sqlstate;
    std::optional<std::int64_t> failed_event_id;
    std::uint64_t events = 0;   // events handed to the sink (wanted ones)
    std::uint64_t batches = 0;  // committed batches
    std::uint64_t errors = 0;   // failed attempts (handler or connection)
    std::uint64_t parked = 0;
    double last_event_timestamp = 0;  // Unix seconds of the newest event applied
    std::int64_t lag_events = 0;      // events after the checkpoint (from the lag monitor)
    double lag_seconds = 0;           // now minus the oldest unprocessed event's timestamp
    // Aggregates held in quarantine (on_error.then: quarantine), from the lag monitor too.
    std::int64_t quarantined = 0;
    std::chrono::steady_clock::time_point last_progress{};
};

}  // namespace sluice::engine
