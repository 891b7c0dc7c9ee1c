#include "outbox/webhook_worker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <iterator>
#include <tuple>

#include "infra/backoff/backoff.hpp"
#include "infra/failure/failure.hpp"
#include "infra/log/log.hpp"
#include "outbox/batch.hpp"
#include "outbox/signature.hpp"
#include "store/sessions.hpp"

namespace sluice::outbox {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

ClientOptions client_options(const WorkerSettings& s) {
    return {.url = s.webhook.url,
            .tls = s.webhook.tls,
            .timeout = s.webhook.timeout,
            .max_idle = static_cast<std::size_t>(std::max(1, s.webhook.max_in_flight))};
}

const config::Webhook& validated(const config::Webhook& webhook) {
    if (webhook.secrets.empty())
        throw std::invalid_argument("webhook has no secrets");
    for (const auto& secret : webhook.secrets)
        (void)decode_secret(secret);
    return webhook;
}

}  // namespace

WebhookWorker::WebhookWorker(asio::any_io_executor executor, WorkerSettings settings,
                             WebhookMetrics metrics)
    : executor_(std::move(executor)),
      settings_((validated(settings.webhook), std::move(settings))),
      metrics_(metrics),
      random_(std::random_device{}()),
      client_(executor_, client_options(settings_)),
      circuit_(settings_.webhook.circuit),
      bucket_(settings_.webhook.rate_limit.per_second, Clock::now()),
      wake_timer_(executor_) {
    metrics_.set_circuit(circuit_.state());
}

void WebhookWorker::wake() {
    wake_now();
}

void WebhookWorker::stop() {
    stopping_ = true;
    wake_now();
}

milliseconds WebhookWorker::lease() const {
    // Up to one timeout waiting in ready_, one for the attempt, then the margin for recording.
    return 2 * settings_.webhook.timeout + settings_.lease_margin;
}

// Claimed rows wait in ready_ only while max_in_flight requests are outstanding, and there
// are at most max_in_flight of them, so each waits at most one webhook timeout before it is
// sent: at most twice the window is leased at once. With a rate limit they also wait for tokens:
// at most half a timeout's worth of the rate is leased, so the last is sent well within its lease.
int WebhookWorker::max_leased() const {
    const int window = std::max(1, settings_.webhook.max_in_flight);
    int leased = 2 * window;
    if (bucket_.limited()) {
        const double timeout_s = std::chrono::duration<double>(settings_.webhook.timeout).count();
        const double paced = settings_.webhook.rate_limit.per_second * timeout_s / 2;
        leased = std::min(leased, static_cast<int>(std::max(1.0, std::floor(paced))));
    }
    return leased;
}

milliseconds WebhookWorker::gate_wait(Clock::time_point now) const {
    auto wait = settings_.poll_interval;
    auto ceil_ms = [](Clock::duration d) {
        return std::max(1ms, std::chrono::ceil<milliseconds>(d));
    };
    if (circuit_.state() == CircuitState::open && now < circuit_.reopens_at())
        wait = std::min(wait, ceil_ms(circuit_.reopens_at() - now));
    // Waiting for a token matters only while a request slot is free (else finish() wakes us).
    const auto token_in = bucket_.wait(now);
    if (!ready_.empty() && circuit_.may_send(now) && in_flight_ < settings_.webhook.max_in_flight &&
        token_in > Clock::duration::zero())
        wait = std::min(wait, ceil_ms(token_in));
    return wait;
}

void WebhookWorker::recheck_state() {
    next_state_check_ = {};
    wake_now();
}

void WebhookWorker::wake_now() {
    woken_ = true;
    wake_timer_.cancel();
}

asio::awaitable<void> WebhookWorker::sleep(milliseconds duration) {
    if (!woken_ && duration > 0ms) {
        wake_timer_.expires_after(duration);
        co_await wake_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    woken_ = false;
}

asio::awaitable<void> WebhookWorker::run() {
    log::info("webhook delivery started",
              {{"webhook", name()}, {"endpoint", display_url(client_.endpoint())}});
    auto drained = [this] {
        return stopping_ && in_flight_ == 0 && completed_.empty() && ready_.empty() &&
               surplus_.empty() && announcements_.empty();
    };
    while (!drained()) {
        bool more = false;
        Failure failed;
        try {
            more = co_await cycle();
            backoff_.reset();
        } catch (const std::exception&) {
            failed = Failure::current();
        }
        if (failed) {
            db_.reset();  // reconnect: the connections may be broken or mid-pipeline
            recorder_.reset();
            auto retry_in = backoff_.next();
            log::warn(
                "outbox database error",
                {{"webhook", name()}, {"error", failed.what()}, {"retry_in_ms", retry_in.count()}});
            if (stopping_ && in_flight_ == 0) {
                if (!completed_.empty()) {
                    log::warn(
                        "stopping with unrecorded attempts; their leases expire and the "
                        "messages are delivered again",
                        {{"webhook", name()}, {"attempts", completed_.size()}});
                }
                if (!ready_.empty()) {
                    log::warn("stopping with claimed messages not sent; their leases expire",
                              {{"webhook", name()}, {"requests", ready_.size()}});
                }
                completed_.clear();
                completed_requests_ = 0;
                ready_.clear();
                surplus_.clear();
                announcements_.clear();
                break;
            }
            co_await sleep(retry_in);
            continue;
        }
        if (drained())
            break;
        if (more) {
            co_await asio::post(executor_, asio::use_awaitable);  // let deliveries run
            continue;
        }
        co_await sleep(stopping_ ? settings_.poll_interval : next_sleep_);
    }
    db_.reset();
    recorder_.reset();
    client_.close_idle();
    metrics_.in_flight->Set(0);
    log::info("webhook delivery stopped", {{"webhook", name()}});
}

asio::awaitable<pg::AsyncConnection> WebhookWorker::open_connection() {
    // jit off: the claim's estimated cost (a correlated subquery per candidate row) can pass
    // jit_above_cost; compiling it takes tens of ms, running it about one.
    auto conn = co_await pg::AsyncConnection::connect(
        executor_, settings_.database.url, settings_.database.connect_timeout,
        {std::string(store::sessions::outbox), settings_.database.statement_timeout,
         settings_.database.pooling, pg::Jit::off});
    for (auto& statement : worker_statements(settings_.database.events_table, settings_.webhook)) {
        co_await conn.prepare(std::move(statement.name), std::move(statement.sql),
                              settings_.database.statement_timeout);
    }
    co_return conn;
}

asio::awaitable<bool> WebhookWorker::open_recorder() {
    if (recorder_)
        co_return true;
    if (Clock::now() < recorder_retry_at_)
        co_return false;
    std::string error;
    try {
        recorder_.emplace(co_await open_connection());
        co_return true;
    } catch (const std::exception& e) {
        error = e.what();
    }
    // Not a reason to stop delivering: record in turn with the claim for a while.
    recorder_retry_at_ = Clock::now() + 1min;
    log::warn(
        "webhook cannot open its second connection; recording in turn with the claim for "
        "a minute",
        {{"webhook", name()}, {"error", error}});
    co_return false;
}

asio::awaitable<bool> WebhookWorker::cycle() {
    if (!db_)
        db_.emplace(co_await open_connection());
    if (!stopping_ && Clock::now() >= next_state_check_)
        co_await refresh_disabled();
    dispatch();  // rows that waited for a token or for the circuit
    const auto now = Clock::now();
    next_sleep_ = gate_wait(now);

    // Rows that will not be sent (stopping, the endpoint is disabled, or its circuit is not
    // closed) give their lease back, so they are due at once for whoever delivers next.
    std::vector<std::int64_t> released = std::move(surplus_);
    surplus_.clear();
    const bool circuit_closed = circuit_.state() == CircuitState::closed;
    if (stopping_ || disabled_ || !circuit_closed) {
        for (const auto& r : ready_) {
            for (const auto& row : r.rows)
                released.push_back(row.outbox_id);
        }
        ready_.clear();
    }
    const int window = std::max(1, settings_.webhook.max_in_flight);
    const int quarter = (window + 3) / 4;
    const int leased = in_flight_ + static_cast<int>(ready_.size());
    int limit = 0;
    if (!stopping_ && !disabled_) {
        limit = std::min(settings_.outbox.claim_batch, max_leased() - leased);
        // An open circuit claims nothing; once its cool-down has passed, one request (a row,
        // or a batch): the probe.
        if (!circuit_closed)
            limit = circuit_.may_send(now) ? std::min(limit, 1) : 0;
    }
    const auto batch = completed_.size();
    const int batch_requests = completed_requests_;
    const auto announced = announcements_.size();
    // Under load (half the window or more leased, so HTTP keeps going through a round trip)
    // wait until a quarter of the window can be recorded or claimed: one round trip per quarter
    // instead of one per delivery. With little leased, record and claim at once, so a trickle
    // is never held back.
    const bool busy = leased >= window / 2;
    if (!stopping_ && released.empty() && busy && batch_requests < quarter && limit < quarter) {
        co_return false;
    }
    if (batch == 0 && released.empty() && announced == 0 && limit <= 0)
        co_return false;  // a finished delivery, wake() or stop() wakes us

    // Recording and claiming share one pipeline: one round trip and one transaction (the claim
    // sees the rows just recorded, so per_aggregate moves on to an aggregate's next event at
    // once). Attempts finishing meanwhile are appended behind the batch and wait for the next.
    // A batched webhook's limit counts requests; the claim's counts rows.
    const bool batched = settings_.webhook.batch.enabled();
    auto recording = record_steps(settings_.webhook, completed_);
    for (std::size_t i = 0; i < announced; ++i)
        recording.push_back(announcements_[i]);
    // A batched webhook's claims take turns (batched_claim_lock_step), before any row is
    // written here, so two instances never wait on each other's rows while holding it.
    std::vector<pg::Step> claiming;
    if (limit > 0 && batched)
        claiming.push_back(batched_claim_lock_step(settings_.webhook.name));
    if (!released.empty())
        claiming.push_back(release_step(released));
    auto claim_at = claiming.size();
    if (limit > 0) {
        const int rows_limit = batched ? limit * settings_.webhook.batch.max_events : limit;
        claiming.push_back(claim_step(settings_.webhook, rows_limit, lease()));
        claiming.push_back(next_due_step(settings_.webhook));
    }
    // Under load a batched webhook records on its second connection while this one claims: both
    // statements cost per message, and one backend running them in turn is the limit. That claim
    // does not see this cycle's records; an aggregate's next message goes a cycle later.
    const bool side_by_side = batched && busy && batch > 0 && limit > 0 && co_await open_recorder();
    // The lease starts when the server runs the claim, after this moment.
    const auto send_by = Clock::now() + settings_.webhook.timeout;
    const auto timeout = settings_.database.statement_timeout;
    std::vector<pg::Result> recorded;
    std::vector<pg::Result> results;
    if (side_by_side) {
        std::tie(recorded, results) =
            co_await (recorder_->pipeline(std::move(recording), timeout) &&
                      db_->pipeline(std::move(claiming), timeout));
    } else {
        // One pipeline: the lock first, then the records, then the rest of the claim.
        const std::size_t locked = limit > 0 && batched ? 1 : 0;
        std::vector<pg::Step> steps(std::make_move_iterator(claiming.begin()),
                                    std::make_move_iterator(claiming.begin() + locked));
        const auto recorded_at = steps.size();
        const auto recorded_n = recording.size();
        steps.insert(steps.end(), std::make_move_iterator(recording.begin()),
                     std::make_move_iterator(recording.end()));
        steps.insert(steps.end(), std::make_move_iterator(claiming.begin() + locked),
                     std::make_move_iterator(claiming.end()));
        results = co_await db_->pipeline(std::move(steps), timeout);
        recorded.assign(std::make_move_iterator(results.begin() + recorded_at),
                        std::make_move_iterator(results.begin() + recorded_at + recorded_n));
        claim_at += recorded_n;
    }
    completed_.erase(completed_.begin(), completed_.begin() + static_cast<long>(batch));
    completed_requests_ -= batch_requests;
    announcements_.erase(announcements_.begin(),
                         announcements_.begin() + static_cast<long>(announced));
    if (batch > 0 && recorded.at(0).rows() == 1) {
        disabled_ = true;  // committed: disable_after passed without a success
        metrics_.disabled->Set(1);
        log::error(
            "webhook endpoint disabled: no successful delivery for disable_after; run "
            "`sluice outbox enable` to resume",
            {{"webhook", name()},
             {"reason", std::string(recorded.at(0).text(0, 0))},
             {"notify", settings_.webhook.notify}});
    }
    if (limit <= 0)
        co_return false;
    auto rows = decode_claimed(results.at(claim_at));
    const auto& next_due = results.at(claim_at + 1);
    if (next_due.rows() == 1 && !next_due.is_null(0, 0)) {
        next_sleep_ = std::clamp(milliseconds(next_due.int64(0, 0)), 1ms, settings_.poll_interval);
    }
    const int claimed = take_claimed(std::move(rows), limit, send_by);
    dispatch();
    next_sleep_ = std::min(next_sleep_, gate_wait(Clock::now()));
    co_return claimed >= limit;
}

int WebhookWorker::take_claimed(std::vector<ClaimedRow> rows, int limit,
                                Clock::time_point send_by) {
    auto requests = requests_of(std::move(rows));
    // Batches formed earlier are taken whole, so a claim can bring more requests than asked
    // for; those go back (still one batch each) rather than wait past their lease.
    const auto claimed = static_cast<int>(requests.size());
    for (int i = limit; i < claimed; ++i) {
        for (const auto& row : requests[static_cast<std::size_t>(i)])
            surplus_.push_back(row.outbox_id);
    }
    if (claimed > limit)
        requests.resize(static_cast<std::size_t>(limit));
    for (auto& request : requests)
        ready_.push_back({std::move(request), send_by});
    return claimed;
}

std::vector<WebhookWorker::Request> WebhookWorker::requests_of(std::vector<ClaimedRow> rows) const {
    std::vector<Request> requests;
    const bool batched = settings_.webhook.batch.enabled();
    for (auto& row : rows) {
        // Rows come ordered by batch; a batch's members follow each other.
        const bool joins = batched && row.batch_id && !requests.empty() &&
                           requests.back().front().batch_id == row.batch_id;
        if (joins) {
            requests.back().push_back(std::move(row));
        } else {
            requests.emplace_back();
            requests.back().push_back(std::move(row));
        }
    }
    return requests;
}

void WebhookWorker::dispatch() {
    std::size_t expired = 0;
    while (!ready_.empty() && in_flight_ < settings_.webhook.max_in_flight && !disabled_ &&
           !stopping_) {
        const auto now = Clock::now();
        if (now > ready_.front().send_by) {
            // Not normally reached (see max_leased); the attempt and its recording might
            // outlast the lease, and another claim might send the row meanwhile. Left alone,
            // the row is due again when its lease ends.
            ready_.pop_front();
            ++expired;
            continue;
        }
        // A row that must wait for a token or for the circuit stays first in line; the cycle
        // comes back for it (gate_wait), or hands it back if the circuit opened.
        if (bucket_.wait(now) > Clock::duration::zero())
            break;
        const auto admission = circuit_.admit(now);
        if (admission == Circuit::Admission::wait)
            break;
        const bool probe = admission == Circuit::Admission::probe;
        if (probe) {
            note_circuit(CircuitState::half_open);
        }
        (void)bucket_.try_take(now);
        auto ready = std::move(ready_.front());
        ready_.pop_front();
        ++in_flight_;
        asio::co_spawn(executor_, deliver(std::move(ready.rows), probe), [](std::exception_ptr e) {
            // deliver() catches everything it can; this only reports what escaped it.
            if (e)
                log::error("webhook delivery task failed unexpectedly");
        });
    }
    if (expired > 0) {
        log::warn(
            "claimed messages waited too long for a free slot; they are sent again when "
            "their lease ends",
            {{"webhook", name()}, {"requests", expired}});
    }
    metrics_.in_flight->Set(in_flight_);
}

asio::awaitable<void> WebhookWorker::refresh_disabled() {
    auto step = disabled_state_step(name());
    auto result =
        co_await db_->query(step.sql_or_name, step.params, settings_.database.statement_timeout);
    bool disabled = result.rows() == 1 && result.boolean(0, 0);
    if (disabled && !disabled_) {
        log::warn("webhook endpoint is disabled; run `sluice outbox enable` to resume",
                  {{"webhook", name()}, {"reason", std::string(result.text(0, 1))}});
    } else if (!disabled && disabled_) {
        log::info("webhook endpoint enabled again", {{"webhook", name()}});
    }
    disabled_ = disabled;
    metrics_.disabled->Set(disabled_ ? 1 : 0);
    next_state_check_ = Clock::now() + settings_.state_check_interval;
}

}  // namespace sluice::outbox
