// sluice_latency_load: appends probe events at a fixed rate, one event per transaction, and
// records when each commit returned to the client (wall clock, microseconds since the epoch).
// At the end it stores those times in bench_latency_commits(event_id, committed_at) so that
// bench/latency can join them with the projection's apply times in SQL.
//
//   sluice_latency_load --database-url URL [--rate 1000] [--seconds 30] [--events-table events]
//                       [--connections 1]
//
// With --connections N, N threads on N connections share the schedule (event n is due at
// start + n / rate and goes through connection n % N): on a machine so busy that one round trip
// takes longer than 1 / rate, several keep the rate where one falls behind.
//
// A benchmark tool, not part of the daemon: it uses the blocking pg::Connection on purpose.
// Error policy: bad arguments print usage and exit 2; database errors print and exit 1.
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/args.hpp"
#include "infra/pg/connection.hpp"
#include "infra/pg/literal.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string url;
    std::string events_table = "events";
    int rate = 1000;
    int seconds = 30;
    int connections = 1;
};

struct Commit {
    std::int64_t event_id;
    std::int64_t committed_at_us;  // wall clock after COMMIT returned
};

constexpr const char* usage_text =
    "usage: sluice_latency_load --database-url URL [--rate N] [--seconds N] "
    "[--events-table NAME] [--connections N]\n";

[[noreturn]] void usage(const std::string& problem) {
    std::cerr << "sluice_latency_load: " << problem << "\n" << usage_text;
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    if (const char* env = std::getenv("DATABASE_URL"))
        o.url = env;
    auto take = [&](const std::string& flag, const std::string& value) {
        if (flag == "--database-url")
            o.url = value;
        else if (flag == "--events-table")
            o.events_table = value;
        else if (flag == "--rate")
            o.rate = static_cast<int>(sluice::bench::positive_arg(flag, value, 1000000, usage));
        else if (flag == "--seconds")
            o.seconds = static_cast<int>(sluice::bench::positive_arg(flag, value, 1000000, usage));
        else if (flag == "--connections")
            o.connections = static_cast<int>(sluice::bench::positive_arg(flag, value, 64, usage));
        else
            return false;
        return true;
    };
    sluice::bench::parse_pairs(argc, argv, usage_text, take, usage);
    if (o.url.empty())
        usage("--database-url (or DATABASE_URL) is required");
    return o;
}

std::int64_t wall_clock_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// One probe event per autocommit INSERT: the result arrives only after the commit, so the
// time taken right after exec() returns is the commit time as the client sees it.
// Appends the events n = first, first + step, ... of the schedule that starts at `start`.
std::vector<Commit> append_probes(sluice::pg::Connection& conn, const Options& o,
                                  Clock::time_point start, std::int64_t first, std::int64_t step,
                                  Clock::duration& worst_lag) {
    const std::string insert =
        "INSERT INTO " + o.events_table +
        " (aggregate_id, aggregate_type, version, event_type, payload)"
        " VALUES (gen_random_uuid(), 'Probe', 1, 'LatencyProbe', jsonb_build_object('seq', "
        "$1::bigint)) RETURNING id";
    const auto total = static_cast<std::int64_t>(o.rate) * o.seconds;
    const auto interval = std::chrono::nanoseconds(1000000000LL / o.rate);
    std::vector<Commit> commits;
    commits.reserve(static_cast<std::size_t>(total / step + 1));
    for (std::int64_t n = first; n < total; n += step) {
        const auto due = start + n * interval;
        std::this_thread::sleep_until(due);
        worst_lag = std::max(worst_lag, Clock::now() - due);
        auto r = conn.exec(insert, sluice::pg::Params(n));
        commits.push_back({r.int64(0, 0), wall_clock_us()});
    }
    return commits;
}

void store_commits(sluice::pg::Connection& conn, const std::vector<Commit>& commits) {
    conn.exec_script(
        "CREATE TABLE IF NOT EXISTS bench_latency_commits (event_id bigint PRIMARY KEY, "
        "committed_at timestamptz NOT NULL)");
    conn.exec(
        "INSERT INTO bench_latency_commits (event_id, committed_at) "
        "SELECT id, timestamptz 'epoch' + us * interval '1 microsecond' "
        "FROM unnest($1::bigint[], $2::bigint[]) AS t(id, us)",
        sluice::pg::Params(sluice::pg::int_array(commits, &Commit::event_id),
                           sluice::pg::int_array(commits, &Commit::committed_at_us)));
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    try {
        std::vector<sluice::pg::Connection> conns;
        for (int i = 0; i < o.connections; ++i)
            conns.push_back(sluice::pg::Connection::open(o.url, 10, "sluice latency load"));
        const auto started = Clock::now();
        std::vector<Commit> commits;
        Clock::duration worst_lag{};
        if (o.connections == 1) {
            commits = append_probes(conns[0], o, started, 0, 1, worst_lag);
        } else {
            // Each thread owns its connection, its commits and its lag; they are joined
            // (and an exception rethrown) before anything is read.
            std::vector<std::vector<Commit>> parts(conns.size());
            std::vector<Clock::duration> lags(conns.size());
            std::vector<std::exception_ptr> errors(conns.size());
            std::vector<std::thread> threads;
            for (std::size_t i = 0; i < conns.size(); ++i) {
                threads.emplace_back([&, i] {
                    try {
                        parts[i] = append_probes(conns[i], o, started, static_cast<std::int64_t>(i),
                                                 o.connections, lags[i]);
                    } catch (...) {
                        errors[i] = std::current_exception();
                    }
                });
            }
            for (auto& t : threads)
                t.join();
            for (std::size_t i = 0; i < conns.size(); ++i) {
                if (errors[i])
                    std::rethrow_exception(errors[i]);
                commits.insert(commits.end(), parts[i].begin(), parts[i].end());
                worst_lag = std::max(worst_lag, lags[i]);
            }
        }
        const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
        store_commits(conns[0], commits);
        std::cout << "appended " << commits.size() << " events in " << elapsed << " s ("
                  << static_cast<double>(commits.size()) / elapsed << " events/s); worst send "
                  << std::chrono::duration<double, std::milli>(worst_lag).count()
                  << " ms behind schedule\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "sluice_latency_load: " << e.what() << "\n";
        return 1;
    }
}
