// The running daemon: the shared feed, every subscriber, the outbox publisher, the HTTP
// endpoint and systemd notifications on one io_context. SIGTERM/SIGINT stop it (in-flight
// batches commit, bounded by the drain time), SIGHUP reloads the config file.
// Threading: everything runs on the io_context's one thread (io_context(1)): no strands, and
// its state needs no atomics or locks. Concurrency is coroutines interleaving at co_await; a task
// that others wait for sets a Completion from its co_spawn completion handler, and every such wait
// has a deadline (shutdown drain, hand-over). Error policy: run() returns the process exit code;
// failures inside subscribers are contained there.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace sluice::daemon {

struct DaemonOptions {
    std::string config_path;
    std::chrono::milliseconds drain{30000};
};

// Runs until a stop signal; returns the exit code (0 after a clean stop).
int run_daemon(config::Config config, DaemonOptions options);

}  // namespace sluice::daemon
