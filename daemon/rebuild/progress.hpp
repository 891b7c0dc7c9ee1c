// The progress of a replay on stderr: a bar redrawn in place (\r) on a terminal, a plain line
// every two seconds otherwise, each with done/total events, percent, rate and time left. Used
// by the command line, whether it replays itself or follows a rebuild a daemon runs.
// Threading: one thread. Error policy: none (writes to std::cerr).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice::daemon {

// "1h02m", "3m07s", "12s"; "?" when unknown.
[[nodiscard]] std::string format_duration(double seconds);

class Progress {
  public:
    Progress(std::string label, bool terminal);

    // `rate` < 0: measured here from the counts shown. `final` prints the last figure unless
    // the line already shows it (then only ends the terminal's line).
    void update(std::int64_t done, std::int64_t total, bool final = false, double rate = -1);
    // The label shown before the figures (the phase, when following a daemon's rebuild).
    void set_label(std::string label) { label_ = std::move(label); }

  private:
    using Clock = std::chrono::steady_clock;
    std::string label_;
    bool terminal_;
    Clock::time_point start_ = Clock::now();
    Clock::time_point last_{};
    std::int64_t first_done_ = -1;  // the count when first shown (a resumed replay)
    std::int64_t printed_ = -1;     // the count of the last line printed
};

}  // namespace sluice::daemon
