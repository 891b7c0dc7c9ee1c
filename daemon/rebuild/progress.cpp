#include "daemon/rebuild/progress.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace sluice::daemon {

std::string format_duration(double seconds) {
    if (seconds < 0 || seconds > 1e7)
        return "?";
    long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600) {
        std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    } else if (s >= 60) {
        std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%lds", s);
    }
    return buf;
}

Progress::Progress(std::string label, bool terminal)
    : label_(std::move(label)), terminal_(terminal) {}

void Progress::update(std::int64_t done, std::int64_t total, bool final, double rate) {
    auto now = Clock::now();
    if (first_done_ < 0)
        first_done_ = done;
    if (final && done == printed_) {
        if (terminal_)
            std::cerr << "\n";
        return;
    }
    if (!final && now - last_ < (terminal_ ? std::chrono::milliseconds(200)
                                           : std::chrono::milliseconds(2000))) {
        return;
    }
    last_ = now;
    printed_ = done;
    if (rate < 0) {
        double elapsed = std::chrono::duration<double>(now - start_).count();
        rate = elapsed > 0 ? static_cast<double>(done - first_done_) / elapsed : 0;
    }
    total = std::max(total, done);
    double eta = rate > 0 ? static_cast<double>(total - done) / rate : -1;
    int percent = total > 0 ? static_cast<int>(100 * done / total) : 100;
    char line[240];
    if (terminal_) {
        int filled = percent * 30 / 100;
        std::snprintf(line, sizeof line, "\r%s [%-30s] %3d%% %lld/%lld events, %.0f/s, ETA %s ",
                      label_.c_str(), std::string(static_cast<std::size_t>(filled), '#').c_str(),
                      percent, static_cast<long long>(done), static_cast<long long>(total), rate,
                      format_duration(eta).c_str());
    } else {
        std::snprintf(line, sizeof line, "%s: %lld/%lld events (%d%%), %.0f/s, ETA %s\n",
                      label_.c_str(), static_cast<long long>(done), static_cast<long long>(total),
                      percent, rate, format_duration(eta).c_str());
    }
    std::cerr << line << std::flush;
    if (final && terminal_)
        std::cerr << "\n";
}

}  // namespace sluice::daemon
