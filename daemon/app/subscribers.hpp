// The set of running subscribers (projections and webhook dispatchers), each a Runner task on
// the event loop. Applies a config: starts what is new, stops what is gone, restarts what
// changed (at its stored checkpoint) and leaves the unchanged ones running untouched.
// Threading: event-loop thread only. Error policy: sink construction errors (a handler that
// cannot be embedded) are thrown as std::invalid_argument before anything is changed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "metrics/sluice_metrics.hpp"
#include "tailer/feed.hpp"
#include "tailer/runner.hpp"

namespace sluice::app {

namespace asio = boost::asio;

// A stable text of everything that defines a subscriber's behaviour: equal text, no restart.
[[nodiscard]] std::string fingerprint(const config::Projection& p);
[[nodiscard]] std::string fingerprint(const config::Webhook& w);

class Subscribers {
  public:
    Subscribers(asio::any_io_executor ex, tailer::Feed& feed, metrics::SluiceMetrics& metrics);

    // Brings the running set in line with `config`. Stopping waits for in-flight batches to
    // commit, bounded by `drain`.
    asio::awaitable<void> apply(const config::Config& config, std::chrono::milliseconds drain);
    // Stops everything (shutdown), bounded by `drain`. Returns false if some did not finish.
    asio::awaitable<bool> stop_all(std::chrono::milliseconds drain);

    [[nodiscard]] std::vector<std::shared_ptr<tailer::SubscriberStatus>> statuses() const;
    // Exports every subscriber's status into its metric series.
    void export_metrics();

  private:
    struct Entry {
        std::unique_ptr<tailer::Runner> runner;
        std::string fingerprint;
        metrics::SubscriberKind kind;
        metrics::SubscriberSeries series;
        bool done = false;
    };
    struct Wanted {
        std::string fingerprint;
        metrics::SubscriberKind kind;
        std::unique_ptr<tailer::Sink> sink;
    };

    void start(const std::string& name, Wanted wanted, const tailer::RunnerOptions& options);
    asio::awaitable<bool> stop(std::vector<std::string> names, std::chrono::milliseconds drain);

    asio::any_io_executor ex_;
    tailer::Feed& feed_;
    metrics::SluiceMetrics& metrics_;
    std::map<std::string, std::shared_ptr<Entry>> entries_;
};

}  // namespace sluice::app
