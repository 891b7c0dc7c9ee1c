#include "daemon/commands/replay.hpp"

#include <libpq-fe.h>
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

// Runs the catch-up step again and again in the server, committing after each batch, until a
// short read (the head) or until the budget is spent: one round trip for many batches, so a
// replay on a busy machine does not wait to be scheduled between batches. The same batches,
// transactions and checkpoints as one statement per batch. Created once per session; callable
// only outside a transaction block (a procedure's COMMIT needs that).
constexpr const char* replay_procedure_sql = R"SQL(
CREATE OR REPLACE PROCEDURE pg_temp.sluice_replay(p_step text, p_name text, p_limit integer,
  p_budget_ms integer, INOUT rows_read bigint, INOUT last_tx xid8, INOUT last_id bigint,
  INOUT at_head boolean) LANGUAGE plpgsql AS $sluice$
DECLARE
  sluice_step record;
  sluice_until timestamptz := clock_timestamp() + p_budget_ms * interval '1 ms';
BEGIN
  rows_read := 0;
  at_head := false;
  LOOP
    EXECUTE p_step INTO sluice_step USING p_name, last_tx, last_id, p_limit, '';
    COMMIT;
    rows_read := rows_read + sluice_step.rows_read;
    last_tx := sluice_step.last_tx;
    last_id := sluice_step.last_id;
    IF sluice_step.rows_read < p_limit THEN
      at_head := true;
      RETURN;
    END IF;
    EXIT WHEN clock_timestamp() >= sluice_until;
  END LOOP;
END
$sluice$)SQL";

constexpr const char* call_replay_sql =
    "CALL pg_temp.sluice_replay($1, $2, $3, 500, 0, $4::xid8, $5, false)";

// The replaying session may not write events (store/sessions.hpp): says why. Called from
// the handler of `e`.
[[noreturn]] void rethrow_appending(const projections::ProjectionSink& sink,
                                    const pg::ServerError& e) {
    if (e.sqlstate() != "SL004")
        throw;  // the exception being handled
    throw std::runtime_error(
        sink.name() +
        ": a handler appends events, and a replay would append them a second time, so rebuild "
        "and rollback refuse it (SQLSTATE SL004); keep appending events out of the handlers of a "
        "projection you rebuild");
}

}  // namespace

Replayed replay(pg::Connection& conn, const projections::ProjectionSink& sink,
                engine::Position from, std::int64_t total, int batch_size, const std::string& label,
                bool quiet) {
    std::optional<Progress> progress;
    if (!quiet)
        progress.emplace(label, total, isatty(STDERR_FILENO) != 0);
    Replayed out{from, 0};
    // Inside a transaction (the swap's) one statement per batch; otherwise many per round trip.
    const bool in_server = PQtransactionStatus(conn.get()) == PQTRANS_IDLE;
    if (in_server)
        conn.exec(replay_procedure_sql);
    while (true) {
        // No ownership check: the caller holds the subscriber's lock, or the subscriber is a
        // generation that only the command writes.
        auto step = sink.catch_up_step(out.at, batch_size, "");
        pg::Result r;
        try {
            r = in_server ? conn.exec(call_replay_sql,
                                      pg::Params(step->sql_or_name, sink.name(), batch_size,
                                                 std::to_string(out.at.transaction_id),
                                                 std::to_string(out.at.id)))
                          : conn.exec(step->sql_or_name, step->params);
        } catch (const pg::ServerError& e) {
            rethrow_appending(sink, e);
        }
        const auto rows_read = r.int64(0, 0);
        const int tx = in_server ? 1 : 2, id = in_server ? 2 : 3;
        out.at = {std::stoull(std::string(r.text(0, tx))), r.int64(0, id)};
        out.events += rows_read;
        if (progress)
            progress->update(out.events);
        if (in_server ? r.boolean(0, 3) : rows_read < batch_size)
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
