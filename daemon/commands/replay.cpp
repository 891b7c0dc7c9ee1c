#include "daemon/commands/replay.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "daemon/commands/command.hpp"
#include "engine/upcast_install.hpp"

namespace sluice::daemon {
namespace {

using Clock = std::chrono::steady_clock;

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

class Progress {
  public:
    Progress(std::string label, std::int64_t total, bool terminal)
        : label_(std::move(label)), total_(total), terminal_(terminal) {}

    // `final` prints the last figure unless the line already shows it (then only ends the
    // terminal's line), so the final count appears once.
    void update(std::int64_t done, bool final = false) {
        auto now = Clock::now();
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
        double elapsed = std::chrono::duration<double>(now - start_).count();
        double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
        std::int64_t total = std::max(total_, done);
        double eta = rate > 0 ? static_cast<double>(total - done) / rate : -1;
        int percent = total > 0 ? static_cast<int>(100 * done / total) : 100;
        char line[200];
        if (terminal_) {
            int filled = percent * 30 / 100;
            std::snprintf(line, sizeof line, "\r[%-30s] %3d%% %lld/%lld events, %.0f/s, ETA %s ",
                          std::string(static_cast<std::size_t>(filled), '#').c_str(), percent,
                          static_cast<long long>(done), static_cast<long long>(total), rate,
                          format_duration(eta).c_str());
        } else {
            std::snprintf(line, sizeof line, "%s: %lld/%lld events (%d%%), %.0f/s, ETA %s\n",
                          label_.c_str(), static_cast<long long>(done),
                          static_cast<long long>(total), percent, rate,
                          format_duration(eta).c_str());
        }
        std::cerr << line << std::flush;
        if (final && terminal_)
            std::cerr << "\n";
    }

  private:
    std::string label_;
    std::int64_t total_;
    bool terminal_;
    Clock::time_point start_ = Clock::now();
    Clock::time_point last_{};
    std::int64_t printed_ = -1;  // the count of the last line printed
};

}  // namespace

Replayed replay(pg::Connection& conn, const projections::ProjectionSink& sink,
                engine::Position from, std::int64_t total, int batch_size, const std::string& label,
                bool quiet) {
    std::optional<Progress> progress;
    if (!quiet)
        progress.emplace(label, total, isatty(STDERR_FILENO) != 0);
    Replayed out{from, 0};
    while (true) {
        // No ownership check: the caller holds the subscriber's lock, or the subscriber is a
        // generation that only the command writes.
        auto step = sink.catch_up_step(out.at, batch_size, "");
        pg::Result r;
        try {
            r = conn.exec(step->sql_or_name, step->params);
        } catch (const pg::ServerError& e) {
            // The replaying session may not write events (store/sessions.hpp): say why.
            if (e.sqlstate() != "SL004")
                throw;
            throw std::runtime_error(
                sink.name() +
                ": a handler appends events, and a replay would append them a second time, so "
                "rebuild and rollback refuse it (SQLSTATE SL004); keep appending events out of "
                "the handlers of a projection you rebuild");
        }
        auto rows_read = r.int64(0, 0);
        out.at = {std::stoull(std::string(r.text(0, 2))), r.int64(0, 3)};
        out.events += rows_read;
        if (progress)
            progress->update(out.events);
        if (rows_read < batch_size)
            break;
    }
    if (progress)
        progress->update(out.events, true);
    return out;
}

void install_functions(pg::Connection& conn, const projections::ApplyFunction& function,
                       const engine::Upcast& upcast) {
    if (!upcast.empty()) {
        pg::Transaction tx(conn);
        auto problems = engine::check_upcast(conn, upcast);
        if (!problems.empty())
            throw UsageError(config::format(problems.front()));
        tx.commit();
        conn.exec_script(upcast.install_sql());
    }
    conn.exec_script(function.create_sql);
}

engine::Position stored_checkpoint(pg::Connection& conn, const std::string& name) {
    auto r =
        conn.exec("SELECT transaction_id::text, event_id FROM sluice.checkpoints WHERE name = $1",
                  pg::Params(name));
    if (r.rows() == 0)
        return {};
    return {std::stoull(std::string(r.text(0, 0))), r.int64(0, 1)};
}

}  // namespace sluice::daemon
