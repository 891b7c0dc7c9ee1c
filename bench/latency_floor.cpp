// sluice_latency_floor: the floor that bench/latency measures sluice against. The least a
// reactive consumer of the events table can do per event: wait for the events trigger's NOTIFY,
// read the new ids, apply each event with one statement, commit. Its latency, measured like
// sluice's on the same server in the same run, says what one event costs here at all.
//
//   sluice_latency_floor --database-url URL --events N [--timeout SECONDS]
//
// Loop: wait for a notification (at most 1 s, then read anyway, so that a lost wake-up costs
// a second rather than the run), then in one transaction
//   SELECT id FROM events WHERE id > $1 ORDER BY id
// and, per row, INSERT INTO bench_latency_floor_applied (event_id, applied_at)
// VALUES ($1, clock_timestamp()); COMMIT. It reads in id order with no visibility horizon, so
// an event that commits after a higher id would be skipped: correct only for one writer that
// commits each event before appending the next, as sluice_latency_load does. It checks and
// records nothing else, which is the point: it is a reference, not a projector.
//
// It creates bench_latency_floor_applied, LISTENs, prints "listening" (bench/latency waits for
// that line before starting the load), and applies the events appended after that. It exits 0
// once it has applied --events events, printing how many transactions it took; it prints nothing
// per event, so that its own overhead stays out of its figures.
//
// A benchmark tool, not part of the daemon: it uses the blocking pg::Connection on purpose.
// Error policy: bad arguments print usage and exit 2; database errors print and exit 1; not
// having applied --events events within --timeout seconds prints what it did get and exits 1.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "bench/args.hpp"
#include "infra/pg/connection.hpp"
#include "store/channels.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// The longest wait for a notification before reading anyway.
constexpr auto fallback_poll = std::chrono::milliseconds(1000);

struct Options {
    std::string url;
    std::int64_t events = 0;
    int timeout_s = 300;
};

constexpr const char* usage_text =
    "usage: sluice_latency_floor --database-url URL --events N [--timeout SECONDS]\n"
    "  Applies the next N events of the events table, one INSERT each into\n"
    "  bench_latency_floor_applied, woken by the events trigger's NOTIFY; exits 1 when\n"
    "  they are not all applied within --timeout seconds (default 300).\n";

[[noreturn]] void usage(const std::string& problem) {
    std::cerr << "sluice_latency_floor: " << problem << "\n" << usage_text;
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    if (const char* env = std::getenv("DATABASE_URL"))
        o.url = env;
    auto take = [&](const std::string& flag, const std::string& value) {
        if (flag == "--database-url")
            o.url = value;
        else if (flag == "--events")
            o.events = sluice::bench::positive_arg(flag, value, 1000000000L, usage);
        else if (flag == "--timeout")
            o.timeout_s = static_cast<int>(sluice::bench::positive_arg(flag, value, 86400, usage));
        else
            return false;
        return true;
    };
    sluice::bench::parse_pairs(argc, argv, usage_text, take, usage);
    if (o.url.empty())
        usage("--database-url (or DATABASE_URL) is required");
    if (o.events == 0)
        usage("--events is required");
    return o;
}

// Frees the notifications libpq has queued; true if there was any. A statement's result can
// bring notifications along, so the queue is looked at before waiting on the socket.
bool take_notifications(PGconn* conn) {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn)) {
        PQfreemem(n);
        any = true;
    }
    return any;
}

// Returns when a notification has arrived or after `timeout`, whichever is first.
void wait_for_notification(PGconn* conn, std::chrono::milliseconds timeout) {
    if (take_notifications(conn))
        return;
    pollfd fd{PQsocket(conn), POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(timeout.count())) < 0 && errno != EINTR)
        throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    if (PQconsumeInput(conn) == 0)
        throw sluice::pg::ConnectionLost(sluice::pg::one_line(PQerrorMessage(conn)));
    take_notifications(conn);
}

struct Totals {
    std::int64_t applied = 0;
    std::int64_t transactions = 0;
};

// Applies every event after `last` in one transaction; returns the highest id applied, or
// `last` when there was none.
std::int64_t apply_new(sluice::pg::Connection& conn, std::int64_t last, Totals& totals) {
    sluice::pg::Transaction tx(conn);
    auto rows =
        conn.exec("SELECT id FROM events WHERE id > $1 ORDER BY id", sluice::pg::Params(last));
    for (int i = 0; i < rows.rows(); ++i) {
        last = rows.int64(i, 0);
        conn.exec(
            "INSERT INTO bench_latency_floor_applied (event_id, applied_at) "
            "VALUES ($1, clock_timestamp())",
            sluice::pg::Params(last));
    }
    tx.commit();
    totals.applied += rows.rows();
    totals.transactions += rows.rows() > 0 ? 1 : 0;
    return last;
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    try {
        auto conn = sluice::pg::Connection::open(o.url, 10, "sluice latency floor");
        conn.exec_script(
            "CREATE TABLE IF NOT EXISTS bench_latency_floor_applied (event_id bigint PRIMARY "
            "KEY, applied_at timestamptz NOT NULL); LISTEN " +
            std::string(sluice::store::default_events_channel));
        // Read after LISTEN: an event committed after this read sends a notification we get.
        std::int64_t last = conn.exec("SELECT coalesce(max(id), 0) FROM events").int64(0, 0);
        // Flushed (endl): bench/latency starts the load once it sees this line.
        std::cout << "listening on " << sluice::store::default_events_channel << " after event "
                  << last << std::endl;

        const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_s);
        Totals totals;
        while (totals.applied < o.events) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) {
                std::cerr << "sluice_latency_floor: timed out after " << o.timeout_s << " s with "
                          << totals.applied << " of " << o.events << " events applied\n";
                return 1;
            }
            wait_for_notification(conn.get(), std::min(left, fallback_poll));
            last = apply_new(conn, last, totals);
        }
        std::cout << "applied " << totals.applied << " events in " << totals.transactions
                  << " transactions\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "sluice_latency_floor: " << e.what() << "\n";
        return 1;
    }
}
