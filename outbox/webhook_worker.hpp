// Delivery for one webhook: its own database connection and HTTP client, so a slow or
// black-holed endpoint never delays another webhook. One loop claims due rows (leased, no open
// transaction) and records finished attempts, both in one round trip and one transaction per
// batch; deliveries run up to max_in_flight at a time, fed from at most max_in_flight claimed
// rows kept ready, so sending goes on while the next batch is recorded and claimed. It sleeps until
// woken (NOTIFY, a finished delivery, stop) or until the next row is due, at most poll_interval.
// The endpoint's circuit breaker (outbox/circuit.hpp) and rate_limit (outbox/token_bucket.hpp)
// gate what is sent: while the circuit is open nothing is claimed (no database work per queued
// message; claimed rows not yet sent are handed back once), half-open claims and sends one row
// as the probe; rows wait in ready_ for a token of the rate limit, and only as many are claimed
// as the rate can send well within their lease.
// A batched webhook (`batch:`, outbox/batch.hpp) works the same way in requests instead of
// messages: a claimed batch is one request (max_in_flight, one token of the rate limit, one
// attempt for the circuit), recorded as one attempt per member. Under load it records on a
// second connection while the first claims, so the server works on both side by side. With a
// `notify` webhook, the circuit's opening and closing are announced as operational events, written
// with the record of the attempt that changed it. Threading: the event-loop thread only, like the
// rest of sluice (no strand, no locks). Lifetime: the worker must outlive run(); run() returns only
// after every delivery it started has finished (each is bounded by the webhook timeout). Error
// policy: database and endpoint failures are logged with webhook=<name> and retried with a bounded
// backoff; run() does not throw for them. The constructor throws for configuration errors (bad URL,
// TLS files, malformed secret).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "infra/backoff/backoff.hpp"
#include "infra/log/throttle.hpp"
#include "infra/pg/async_connection.hpp"
#include "outbox/circuit.hpp"
#include "outbox/delivery_metrics.hpp"
#include "outbox/http_client.hpp"
#include "outbox/store.hpp"
#include "outbox/token_bucket.hpp"

namespace sluice::outbox {

struct WorkerSettings {
    config::Webhook webhook;
    config::Database database;
    config::Outbox outbox;
    std::chrono::milliseconds poll_interval{1000};         // longest sleep between claims
    std::chrono::milliseconds state_check_interval{5000};  // re-read webhook_state this often
    // lease = 2 x webhook timeout + margin (a claimed row may wait up to one timeout for a
    // free slot, then its attempt takes up to one more); the margin covers recording the
    // attempt, so a row is not claimed again while its attempt is unrecorded. After a crash,
    // the crashed instance's claimed rows are due again once their lease has passed.
    std::chrono::milliseconds lease_margin{5000};
};

class WebhookWorker {
  public:
    using Clock = std::chrono::steady_clock;

    // Records attempts, deliveries, in-flight and disabled into `metrics` as they happen.
    WebhookWorker(boost::asio::any_io_executor executor, WorkerSettings settings,
                  WebhookMetrics metrics);
    WebhookWorker(const WebhookWorker&) = delete;
    WebhookWorker& operator=(const WebhookWorker&) = delete;

    [[nodiscard]] boost::asio::awaitable<void> run();
    void wake();           // new rows may be due
    void recheck_state();  // webhook_state changed (`sluice outbox enable`): re-read it now
    void stop();           // stop claiming, finish and record what is in flight, then run() returns

    [[nodiscard]] const std::string& name() const { return settings_.webhook.name; }
    [[nodiscard]] const WebhookMetrics& metrics() const { return metrics_; }

  private:
    boost::asio::awaitable<bool> cycle();  // true: more rows may be due right away
    void dispatch();                       // sends ready rows while there is room
    [[nodiscard]] std::chrono::milliseconds lease() const;
    [[nodiscard]] int max_leased() const;
    // How long until the circuit or the rate limit may let more through; poll_interval when
    // neither holds anything back.
    [[nodiscard]] std::chrono::milliseconds gate_wait(Clock::time_point now) const;
    void note_circuit(std::optional<CircuitState> changed);
    boost::asio::awaitable<void> refresh_disabled();
    // A connection of this worker's session kind with the worker's statements prepared.
    boost::asio::awaitable<pg::AsyncConnection> open_connection();
    // Whether recorder_ is open (opening it now); false for a minute after it could not be.
    boost::asio::awaitable<bool> open_recorder();
    // One request's claimed rows: one message, or the members of one batch (in body order).
    using Request = std::vector<ClaimedRow>;
    // Queues claimed rows as requests, up to `limit` of them (the rest go back next cycle);
    // returns how many requests were claimed.
    int take_claimed(std::vector<ClaimedRow> rows, int limit, Clock::time_point send_by);
    // Groups claimed rows (ordered by batch) into requests.
    [[nodiscard]] std::vector<Request> requests_of(std::vector<ClaimedRow> rows) const;
    // webhook_delivery.cpp: sending one request and turning its answer into records.
    boost::asio::awaitable<void> deliver(Request request, bool probe);
    // The members that cannot be sent (their event is gone, or their body cannot be built) are
    // dead on their own: their records go to `settled` and they leave `request`; returns the
    // signed request for the others (nullopt when none is left).
    [[nodiscard]] std::optional<Message> build_request(Request& request,
                                                       std::vector<AttemptRecord>& settled);
    void note_verdict(const Request& request, const std::string& message_id,
                      const Response& response, const Decision& decision, int attempt,
                      std::chrono::system_clock::time_point now);
    boost::asio::awaitable<void> sleep(std::chrono::milliseconds duration);
    AttemptRecord attempt_record(const Request& request, const Response& response,
                                 const Decision& decision) const;
    // A request ended: its records are written with the next cycle.
    void finish(std::vector<AttemptRecord> records, bool cancelled_probe = false);
    void wake_now();

    boost::asio::any_io_executor executor_;
    WorkerSettings settings_;
    WebhookMetrics metrics_;
    std::mt19937_64 random_;
    HttpClient client_;
    std::optional<pg::AsyncConnection> db_;
    // A batched webhook's second connection: under load it records while db_ claims.
    std::optional<pg::AsyncConnection> recorder_;
    std::chrono::steady_clock::time_point recorder_retry_at_{};  // after it could not be opened
    // Claimed (leased) requests waiting for a free slot: filled only while max_in_flight
    // requests are outstanding, so at most max_in_flight of them; the next ones are claimed
    // while the current ones are being sent.
    struct ReadyRequest {
        Request rows;
        std::chrono::steady_clock::time_point send_by;  // later, the lease could run out
    };
    std::deque<ReadyRequest> ready_;
    std::vector<AttemptRecord> completed_;  // finished attempts not yet written
    int completed_requests_ = 0;            // the requests completed_ holds the records of
    std::vector<std::int64_t> surplus_;     // claimed beyond the limit: handed back next cycle
    // Operational events about the circuit (notify webhook set), written with the next record.
    std::vector<pg::Step> announcements_;
    bool announced_open_ = false;  // circuit_opened was announced, circuit_closed not yet
    int in_flight_ = 0;            // HTTP requests outstanding
    bool disabled_ = false;
    Circuit circuit_;
    // "webhook attempt failed" at most every 10 s; the metrics count every attempt.
    log::Throttle failed_attempt_log_{std::chrono::seconds(10)};
    TokenBucket bucket_;
    std::chrono::steady_clock::time_point next_state_check_{};
    std::chrono::milliseconds next_sleep_{0};
    Backoff backoff_{std::chrono::milliseconds(250), std::chrono::seconds(30)};  // db failures
    bool stopping_ = false;
    bool woken_ = false;
    // Declared last: deliveries and stop() cancel it, so it must be destroyed first.
    boost::asio::steady_timer wake_timer_;
};

}  // namespace sluice::outbox
