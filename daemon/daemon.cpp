#include "daemon/daemon.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <set>
#include <utility>

#include "daemon/daemon_work.hpp"
#include "daemon/definitions.hpp"
#include "daemon/metrics.hpp"
#include "daemon/metrics_export.hpp"
#include "daemon/part_settings.hpp"
#include "daemon/rebuild/rebuild_route.hpp"
#include "daemon/rebuild/rebuild_work.hpp"
#include "daemon/status_report.hpp"
#include "daemon/subscribers.hpp"
#include "engine/feed.hpp"
#include "engine/lag.hpp"
#include "engine/quarantine.hpp"
#include "infra/async/completion.hpp"
#include "infra/failure/failure.hpp"
#include "infra/http/listen_address.hpp"
#include "infra/http/server.hpp"
#include "infra/log/log.hpp"
#include "infra/metrics/exposition.hpp"
#include "infra/notify/notify.hpp"
#include "infra/pg/literal.hpp"
#include "outbox/publisher.hpp"
#include "projections/part_index.hpp"
#include "store/rebuilds.hpp"
#include "store/sessions.hpp"

namespace sluice::daemon {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
constexpr milliseconds monitor_every{1000};
constexpr milliseconds lag_every{5000};

// What an operator can do when http.listen cannot be bound.
std::string listen_hint(const boost::system::error_code& code) {
    namespace errc = boost::system::errc;
    if (code == errc::address_in_use)
        return "another sluice or program listens there; change http.listen";
    if (code == errc::permission_denied)
        return "ports below 1024 need privileges; change http.listen";
    if (code == errc::address_not_available)
        return "no interface of this host has that address; change http.listen";
    return "change http.listen";
}

class Daemon {
  public:
    Daemon(asio::io_context& io, config::Config config, DaemonOptions options)
        : io_(io),
          config_(std::move(config)),
          options_(std::move(options)),
          feed_(io.get_executor(), feed_options(config_)),
          coordination_(coordination_options(config_)),
          subscribers_(io.get_executor(), feed_, metrics_, coordination_.failover_after / 2),
          rebuild_work_(io.get_executor(), coordination_.instance,
                        coordination_.failover_after / 2),
          work_(subscribers_, rebuild_work_),
          coordinator_(io.get_executor(), coordination_, work_),
          coordinator_done_(io.get_executor()),
          signals_(io, SIGINT, SIGTERM, SIGHUP),
          monitor_timer_(io) {}

    asio::awaitable<void> main() {
        if (!start_http()) {
            exit_code_ = 1;
            io_.stop();
            co_return;
        }
        asio::co_spawn(io_, feed_.run(), asio::detached);
        co_await subscribers_.apply(config_, options_.drain);
        definitions_.configure(config_);
        definitions_due_ = true;
        rebuild_work_.set_config(config_);
        rebuild_work_.on_end([this] { monitor_timer_.cancel(); });  // its row, read at once
        build_part_indexes();
        asio::co_spawn(io_, coordinator_.run(), [this](std::exception_ptr e) {
            coordinator_done_.set();
            if (e)
                log_task_failure("coordination", e);
        });
        if (!start_publisher()) {
            exit_code_ = 1;
            co_await shutdown(SIGTERM);
            co_return;
        }
        asio::co_spawn(io_, monitor_loop(), asio::detached);
        if (auto wd = notifier_.watchdog_interval()) {
            asio::co_spawn(io_, notify::watchdog_loop(notifier_, *wd / 2), asio::detached);
        }
        log::info("sluice running", {{"projections", config_.projections.size()},
                                     {"webhooks", config_.webhooks.size()},
                                     {"instance", coordination_.instance}});
        (void)notifier_.ready(summary());
        while (!stopping_) {
            auto [ec, sig] = co_await signals_.async_wait(asio::as_tuple(asio::use_awaitable));
            if (ec)
                break;
            if (sig == SIGHUP) {
                co_await reload();
            } else {
                co_await shutdown(sig);
            }
        }
    }

    [[nodiscard]] int exit_code() const { return exit_code_; }

  private:
    bool start_http() {
        if (!config_.http.enabled)
            return true;
        auto endpoint = http::parse_listen_address(config_.http.listen);
        if (!endpoint) {
            log::error("invalid http.listen address", {{"listen", config_.http.listen}});
            return false;
        }
        http::ServerOptions opts;
        opts.listen = *endpoint;
        opts.max_request_bytes = config_.http.max_request_bytes;
        server_ = std::make_unique<http::Server>(io_.get_executor(), make_router(), opts);
        try {
            server_->start();
        } catch (const http::ListenError& e) {
            log::error("http.listen " + std::string(e.what()) + " (" + listen_hint(e.code()) + ")",
                       {{"listen", config_.http.listen}});
            return false;
        }
        log::info("HTTP endpoint listening",
                  {{"listen", config_.http.listen}, {"port", server_->port()}});
        return true;
    }

    // Webhook delivery: one Publisher for all webhooks; replaced as a whole on reload.
    bool start_publisher() {
        if (config_.webhooks.empty())
            return true;
        try {
            publisher_ = std::make_unique<outbox::Publisher>(
                io_.get_executor(), outbox::Publisher::settings_from(config_), metrics_.outbox());
        } catch (const std::exception& e) {
            log::error("cannot start webhook delivery", {{"error", e.what()}});
            return false;
        }
        publisher_done_ = std::make_shared<Completion>(io_.get_executor());
        asio::co_spawn(io_, publisher_->run(), [done = publisher_done_](std::exception_ptr e) {
            done->set();
            if (e)
                log::error("webhook delivery ended with an error", {{"error", Failure(e).what()}});
        });
        return true;
    }

    // Each part count in use gets its part index, built in the background when missing (the
    // parts work without it, slower). The task owns what it uses: it may outlive this object.
    void build_part_indexes() {
        for (const auto& p : config_.projections) {
            if (p.partitions < 2 || !part_indexes_.insert(p.partitions).second)
                continue;
            projections::PartIndexBuild build;
            build.url = config_.database.url;
            build.quoted_events_table = pg::quote_qualified(config_.database.events_table);
            build.count = p.partitions;
            build.connect_timeout = config_.database.connect_timeout;
            asio::co_spawn(io_, projections::build_part_index(std::move(build)), asio::detached);
        }
    }

    asio::awaitable<void> stop_publisher() {
        if (!publisher_)
            co_return;
        publisher_->stop();
        // In-flight requests finish (each bounded by its webhook timeout) and are recorded.
        auto longest = milliseconds(0);
        for (const auto& w : config_.webhooks)
            longest = std::max(longest, w.timeout);
        bool stopped = co_await publisher_done_->wait_for(longest + seconds(5));
        if (!stopped) {
            log::error("webhook delivery did not stop in time");
            exit_code_ = 1;
            // Kept alive, as its tasks still refer to it; a new one may start meanwhile.
            stuck_publishers_.push_back(std::move(publisher_));
            co_return;
        }
        publisher_.reset();
    }

    DaemonState state() const {
        DaemonState s;
        for (auto& st : subscribers_.statuses())
            s.subscribers.push_back(st);
        s.feed = feed_.stats();
        s.config_errors = config_errors_;
        s.rebuilds = rebuilds_;
        s.definitions = definitions_.views();
        s.instance = coordination_.instance;
        s.coordination = coordinator_.stats();
        s.now = std::chrono::steady_clock::now();
        s.stall_after =
            std::max<milliseconds>(milliseconds(60000), 3 * config_.database.statement_timeout);
        return s;
    }

    http::Router make_router() {
        http::Router router;
        router.add("/metrics", [this](const http::Request&) {
            return http::Response{200, std::string(sluice::metrics::text_content_type),
                                  metrics_.expose()};
        });
        router.add("/healthz", [](const http::Request&) {
            return http::Response{200, "text/plain; charset=utf-8", "ok\n"};
        });
        router.add("/readyz", [this](const http::Request&) {
            auto r = readiness(state());
            boost::json::object o{{"ready", r.ready}, {"reason", r.reason}};
            return http::Response{r.ready ? 200U : 503U, "application/json",
                                  boost::json::serialize(o) + "\n"};
        });
        router.add("/status", [this](const http::Request&) {
            return http::Response{200, "application/json", status_json(state()) + "\n"};
        });
        router.add_post("/rebuilds/", [this](http::Request request) {
            // Once recorded, the monitor reads the request at once.
            return answer_rebuild_request(io_.get_executor(), config_, request,
                                          [this] { monitor_timer_.cancel(); });
        });
        return router;
    }

    std::string summary() const {
        auto s = state();
        std::size_t running = 0;
        for (const auto& sub : s.subscribers)
            running += sub->state == engine::State::running;
        std::int64_t max_lag = 0;
        for (const auto& sub : s.subscribers)
            max_lag = std::max(max_lag, sub->lag_events);
        return std::to_string(running) + "/" + std::to_string(s.subscribers.size()) +
               " subscribers running, max lag " + std::to_string(max_lag) + " events" +
               (s.feed.connected ? "" : ", database disconnected");
    }

    void export_metrics() {
        subscribers_.export_metrics();
        export_engine_metrics(metrics_, feed_.stats(), coordinator_.stats(),
                              readiness(state()).ready);
        metrics_.set_definitions_changed(definitions_.changed_by_projection());
        if (server_)
            export_http_metrics(metrics_, server_->stats());
    }

    // The blue/green rebuilds (store/rebuilds.hpp), read every monitor round: what /status and
    // the metrics show, and the rebuild units this instance may take. A rebuild that swapped
    // restarts the live runner of its projection here.
    asio::awaitable<void> read_rebuilds(pg::AsyncConnection& conn) {
        const auto asked = std::chrono::steady_clock::now();
        auto r = co_await conn.query(store::rebuilds_sql, {}, config_.database.statement_timeout);
        rebuilds_ = rebuild_views(r);
        std::map<std::string, bool> verify_failed;  // every projection: 0 unless its row says so
        for (const auto& p : config_.projections)
            verify_failed[p.name] = false;
        for (const auto& v : rebuilds_)
            verify_failed[v.projection] = v.phase == store::rebuild_phase::verify_failed;
        metrics_.set_rebuild_verify_failed(verify_failed);
        const auto units = rebuild_work_.units();
        rebuild_work_.observe(rebuilds_, asked);
        if (rebuild_work_.units() != units)
            coordinator_.wake();
        auto swapped = rebuild_work_.take_swapped();
        if (!swapped.empty())
            co_await subscribers_.restart(std::move(swapped));
    }

    asio::awaitable<void> monitor_loop() {
        std::optional<pg::AsyncConnection> lag_conn;
        auto next_lag = std::chrono::steady_clock::now();
        auto next_status = std::chrono::steady_clock::now() + seconds(10);
        std::string quoted = pg::quote_qualified(config_.database.events_table);
        while (!stopping_) {
            export_metrics();
            auto now = std::chrono::steady_clock::now();
            // A start or reload compares the definitions at once, not at the next lag round (and,
            // when that fails, at the rounds after it, as the lag is).
            const bool definitions_due = std::exchange(definitions_due_, false);
            Failure failed;
            try {
                if (!lag_conn || !lag_conn->is_usable()) {
                    lag_conn.reset();
                    lag_conn = co_await pg::AsyncConnection::connect(
                        io_.get_executor(), config_.database.url, config_.database.connect_timeout,
                        {std::string(store::sessions::monitor), config_.database.statement_timeout,
                         config_.database.pooling});
                }
                co_await read_rebuilds(*lag_conn);
                if (now >= next_lag || definitions_due) {
                    next_lag = now + lag_every;
                    const auto statuses = subscribers_.statuses();
                    co_await engine::measure_lag(*lag_conn, quoted, statuses,
                                                 config_.database.statement_timeout);
                    co_await engine::measure_quarantine(*lag_conn, statuses,
                                                        config_.database.statement_timeout);
                    co_await definitions_.check(*lag_conn, config_.database.statement_timeout);
                }
            } catch (const std::exception&) {
                failed = Failure::current();
            }
            if (failed) {
                log::debug("monitor round failed", {{"error", failed.what()}});
                lag_conn.reset();
            }
            if (now >= next_status) {
                next_status = now + seconds(10);
                (void)notifier_.status(summary());
            }
            monitor_timer_.expires_after(monitor_every);
            co_await monitor_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }

    asio::awaitable<void> reload() {
        (void)notifier_.reloading();
        log::info("reloading configuration", {{"file", options_.config_path}});
        auto loaded = config::load_file(options_.config_path, config::process_environment());
        if (!loaded.config) {
            config_errors_.clear();
            for (const auto& d : loaded.errors) {
                config_errors_.push_back(config::format(d));
                log::error("reload rejected: invalid configuration; keeping the running one",
                           {{"error", config::format(d)}});
            }
            metrics_.config_last_reload_success.Set(0);
            metrics_.config_reload_failures_total.Increment();
            (void)notifier_.ready("reload failed (" + std::to_string(loaded.errors.size()) +
                                  " errors); running the previous config");
            co_return;
        }
        config::Config next = std::move(*loaded.config);
        if (next.database != config_.database || next.coordination != config_.coordination ||
            next.tailer != config_.tailer || next.http != config_.http) {
            log::warn(
                "database, tailer, coordination and http settings change only on restart; kept "
                "the old ones");
        }
        next.database = config_.database;
        next.coordination = config_.coordination;
        next.tailer = config_.tailer;
        next.http = config_.http;
        Failure rejected;
        try {
            co_await subscribers_.apply(next, options_.drain);
        } catch (const std::exception&) {
            rejected = Failure::current();
        }
        if (rejected) {
            const std::string reject = rejected.what();
            config_errors_ = {reject};
            log::error("reload rejected; keeping the running config", {{"error", reject}});
            metrics_.config_last_reload_success.Set(0);
            metrics_.config_reload_failures_total.Increment();
            (void)notifier_.ready("reload failed; running the previous config");
            co_return;
        }
        coordinator_.wake();  // new units are taken (and removed ones released) at once
        if (auto level = log::parse_level(next.log.level))
            log::set_level(*level);
        bool delivery_changed = !same_delivery(next, config_);
        if (delivery_changed)
            co_await stop_publisher();
        for (const auto& w : config_.webhooks) {
            bool kept = std::any_of(next.webhooks.begin(), next.webhooks.end(),
                                    [&](const config::Webhook& n) { return n.name == w.name; });
            // A publisher that did not stop in time (stuck) still records into the series.
            if (!kept && !publisher_ && stuck_publishers_.empty())
                metrics_.outbox().remove(w.name);
        }
        config_ = std::move(next);
        definitions_.configure(config_);
        definitions_due_ = true;
        rebuild_work_.set_config(config_);
        monitor_timer_.cancel();  // the monitor compares the definitions now
        build_part_indexes();
        if (delivery_changed && !start_publisher()) {
            config_errors_ = {"webhook delivery could not start with the new config; see the log"};
            metrics_.config_last_reload_success.Set(0);
            metrics_.config_reload_failures_total.Increment();
            (void)notifier_.ready("reload applied, but webhook delivery is not running");
            co_return;
        }
        config_errors_.clear();
        metrics_.config_last_reload_success.Set(1);
        log::info("configuration reloaded", {{"projections", config_.projections.size()},
                                             {"webhooks", config_.webhooks.size()}});
        (void)notifier_.ready(summary());
    }

    asio::awaitable<void> shutdown(int sig) {
        stopping_ = true;
        (void)notifier_.stopping();
        log::info("stopping: letting in-flight batches commit",
                  {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                   {"drain_seconds", options_.drain.count() / 1000}});
        // The coordinator stops the owned units (draining them) and releases them, so that
        // other instances take them over at once.
        coordinator_.stop();
        bool released = co_await coordinator_done_.wait_for(options_.drain + seconds(5));
        if (!released)
            log::warn("coordination did not release every unit in time; stopping the rest");
        bool drained = co_await subscribers_.stop_all(options_.drain);
        // Rebuilds stop between two batches and resume on the next owner.
        if (!co_await rebuild_work_.stop_all(options_.drain))
            log::warn("a rebuild did not stop within the drain bound; waiting for its batch");
        co_await stop_publisher();
        feed_.stop();
        monitor_timer_.cancel();
        if (server_)
            co_await server_->stop(milliseconds(2000));
        if (!drained) {
            log::error("some subscribers did not finish within the drain bound");
            exit_code_ = 1;
        }
        log::info("stopped");
        io_.stop();
    }

    asio::io_context& io_;
    config::Config config_;
    DaemonOptions options_;
    metrics::SluiceMetrics metrics_;
    notify::Notifier notifier_;
    engine::Feed feed_;
    engine::CoordinatorOptions coordination_;
    Subscribers subscribers_;
    RebuildWork rebuild_work_;  // its destructor joins the rebuild threads still running
    DaemonWork work_;           // both of the above, as the coordinator shares them out
    engine::Coordinator coordinator_;
    std::vector<std::string> config_errors_;
    std::vector<RebuildView> rebuilds_;  // as the monitor last read them
    DefinitionWatch definitions_;        // compared by the monitor
    bool definitions_due_ = false;       // set at start and reload: the monitor compares at once
    bool stopping_ = false;
    int exit_code_ = 0;
    std::set<int> part_indexes_;  // part counts whose part index was looked after
    std::unique_ptr<outbox::Publisher> publisher_;
    std::shared_ptr<Completion> publisher_done_;                        // of publisher_'s run()
    std::vector<std::unique_ptr<outbox::Publisher>> stuck_publishers_;  // did not stop in time
    // Last: these hold handlers that refer to the members above.
    Completion coordinator_done_;  // set when coordinator_.run() has ended
    std::unique_ptr<http::Server> server_;
    asio::signal_set signals_;
    asio::steady_timer monitor_timer_;
};

}  // namespace

int run_daemon(config::Config config, DaemonOptions options) {
    asio::io_context io(1);
    auto daemon = std::make_unique<Daemon>(io, std::move(config), std::move(options));
    asio::co_spawn(io, daemon->main(), [&io](std::exception_ptr e) {
        if (!e)
            return;
        log::error("daemon failed", {{"error", Failure(e).what()}});
        io.stop();
    });
    io.run();
    return daemon->exit_code();
}

}  // namespace sluice::daemon
