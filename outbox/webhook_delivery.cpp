// WebhookWorker, the sending side: one request (a message, or a batch's members) built, signed,
// POSTed, and its answer turned into attempt records, log lines, metrics and circuit changes.
// The claiming and recording loop is in webhook_worker.cpp.
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>

#include "infra/log/log.hpp"
#include "outbox/batch.hpp"
#include "outbox/operational_event.hpp"
#include "outbox/text.hpp"
#include "outbox/webhook_worker.hpp"

namespace sluice::outbox {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

double to_ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

std::string describe_failure(const Response& r) {
    if (r.error != ErrorKind::none)
        return r.error_message;
    std::string text = "HTTP " + std::to_string(r.status);
    if (r.retry_after)
        text += " (Retry-After: " + storable_text(*r.retry_after, 64) + ")";
    return text;
}

// What a log line names the request by: the event of a lone message, the id of a batch.
log::Field subject(const std::vector<ClaimedRow>& request, const std::string& message_id) {
    if (request.size() == 1 && !request.front().batch_id)
        return {"event_id", request.front().event_id};
    return {"batch", message_id + " (" + std::to_string(request.size()) + " messages)"};
}

// What a record of the request is about: its message, or a batch's members (one attempt row).
AttemptRecord record_subject(const std::vector<ClaimedRow>& request) {
    AttemptRecord r;
    r.batch_id = request.front().batch_id;
    if (r.batch_id) {
        r.members.reserve(request.size());
        for (const auto& row : request)
            r.members.push_back(row.outbox_id);
    } else {
        r.outbox_id = request.front().outbox_id;
    }
    return r;
}

}  // namespace

AttemptRecord WebhookWorker::attempt_record(const Request& request, const Response& response,
                                            const Decision& decision) const {
    AttemptRecord r = record_subject(request);
    r.verdict = decision.verdict;
    r.retry_delay = decision.delay;
    r.status = response.status;
    if (decision.verdict != Verdict::delivered)
        r.error = describe_failure(response);
    r.duration_ms = to_ms(response.duration);
    r.response = storable_text(response.body, settings_.outbox.max_response_bytes);
    r.health = decision.verdict == Verdict::delivered ? EndpointHealth::ok : EndpointHealth::failed;
    return r;
}

void WebhookWorker::note_circuit(std::optional<CircuitState> changed) {
    if (!changed)
        return;
    metrics_.set_circuit(*changed);
    const auto& notify = settings_.webhook.notify;
    switch (*changed) {
        case CircuitState::open:
            log::warn("webhook circuit open: sending nothing until the cool-down has passed",
                      {{"webhook", name()},
                       {"cool_down_ms", circuit_.cool_down().count()},
                       {"consecutive_failures", circuit_.consecutive_failures()}});
            // One announcement per outage: a failed probe reopening it is not news.
            if (!notify.empty() && !announced_open_) {
                announcements_.push_back(circuit_opened_step(
                    notify, name(), circuit_.consecutive_failures(), circuit_.cool_down()));
                announced_open_ = true;
            }
            break;
        case CircuitState::half_open:
            log::info("webhook circuit half-open: sending one message as a probe",
                      {{"webhook", name()}});
            break;
        case CircuitState::closed:
            log::info("webhook circuit closed: the endpoint answers again", {{"webhook", name()}});
            if (announced_open_) {
                announcements_.push_back(circuit_closed_step(notify, name()));
                announced_open_ = false;
            }
            break;
    }
}

void WebhookWorker::finish(std::vector<AttemptRecord> records, bool cancelled_probe) {
    if (cancelled_probe)
        circuit_.cancel_probe();
    for (auto& record : records)
        completed_.push_back(std::move(record));
    ++completed_requests_;
    --in_flight_;
    dispatch();
    wake_now();
}

// Logs the attempt's verdict (and notes a 410's disabling at once, before it is recorded).
void WebhookWorker::note_verdict(const Request& request, const std::string& message_id,
                                 const Response& response, const Decision& decision, int attempt,
                                 std::chrono::system_clock::time_point now) {
    const auto about = subject(request, message_id);
    switch (decision.verdict) {
        case Verdict::delivered:
            for (const auto& row : request)
                metrics_.record_delivered(now - row.event_timestamp);
            log::debug("webhook delivered", {{"webhook", name()},
                                             about,
                                             {"status", response.status},
                                             {"attempt", attempt},
                                             {"duration_ms", to_ms(response.duration)}});
            break;
        case Verdict::retry:
            // One line per interval: under load a failing receiver fails thousands a second.
            if (auto held_back = failed_attempt_log_.admit(Clock::now())) {
                log::warn("webhook attempt failed", {{"webhook", name()},
                                                     about,
                                                     {"attempt", attempt},
                                                     {"outcome", decision.label},
                                                     {"error", describe_failure(response)},
                                                     {"retry_in_ms", decision.delay.count()},
                                                     {"similar_held_back", *held_back}});
            }
            break;
        case Verdict::dead:
            log::error("webhook message is dead: retries exhausted",
                       {{"webhook", name()},
                        about,
                        {"attempts", attempt},
                        {"error", describe_failure(response)}});
            break;
        case Verdict::disable:
            disabled_ = true;  // stop claiming now; the record makes it durable
            metrics_.disabled->Set(1);
            log::error(
                "webhook endpoint answered 410 Gone: disabled until `sluice outbox "
                "enable`",
                {{"webhook", name()}, about});
            break;
    }
}

std::optional<Message> WebhookWorker::build_request(Request& request,
                                                    std::vector<AttemptRecord>& settled) {
    const auto now_s = unix_seconds(std::chrono::system_clock::now());
    const bool batched = settings_.webhook.batch.enabled();
    std::optional<Message> single;
    std::vector<std::string> elements;
    Request kept;
    for (auto& row : request) {
        std::string error;
        if (!row.event && !row.operational) {
            error = "event " + std::to_string(row.event_id) + " no longer exists in " +
                    settings_.database.events_table;
            log::error(
                "webhook message is dead: its event is gone",
                {{"webhook", name()}, {"outbox_id", row.outbox_id}, {"event_id", row.event_id}});
        } else {
            try {
                if (batched && row.batch_id) {
                    elements.push_back(batch_element(name(), *row.event));
                } else if (row.event) {
                    single = build_message(settings_.webhook, *row.event, now_s);
                } else {
                    single =
                        build_operational_message(settings_.webhook, row.event_id, *row.operational,
                                                  row.event_timestamp, now_s);
                }
            } catch (const std::invalid_argument& e) {
                error = e.what();
                log::error("webhook message is dead: cannot build it",
                           {{"webhook", name()}, {"event_id", row.event_id}, {"error", error}});
            }
        }
        if (error.empty()) {
            kept.push_back(std::move(row));
        } else {
            settled.push_back({.outbox_id = row.outbox_id,
                               .verdict = Verdict::dead,
                               .error = std::move(error),
                               .batch_id = row.batch_id});
        }
    }
    request = std::move(kept);
    if (request.empty())
        return std::nullopt;
    if (elements.empty())
        return single;
    return build_batch_message(settings_.webhook, *request.front().batch_id, elements, now_s);
}

asio::awaitable<void> WebhookWorker::deliver(Request request, bool probe) {
    const auto subject_of_all = record_subject(request);  // before build_request sets any aside
    std::vector<AttemptRecord> records;
    try {
        // A batch's members were claimed together and are recorded together, so they have made
        // the same number of attempts (unless batch: was turned on with messages mid-schedule).
        int attempt = 1;
        for (const auto& row : request)
            attempt = std::max(attempt, row.attempts + 1);
        auto message = build_request(request, records);
        if (!message) {
            finish(std::move(records), probe);
            co_return;
        }
        const std::string message_id = message->id;
        auto response =
            co_await client_.post(std::move(message->headers), std::move(message->body));
        auto now = std::chrono::system_clock::now();
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        auto decision = decide(response.outcome(), attempt, settings_.webhook.retry, now,
                               [&] { return uniform(random_); });
        metrics_.record_attempt(decision.label, response.duration);

        note_verdict(request, message_id, response, decision, attempt, now);
        note_circuit(circuit_.record(decision.verdict == Verdict::delivered, probe, Clock::now()));
        records.push_back(attempt_record(request, response, decision));
        finish(std::move(records));
    } catch (const std::exception& e) {
        auto delay = settings_.webhook.retry.schedule.empty()
                         ? milliseconds(5s)
                         : settings_.webhook.retry.schedule.front();
        log::error("webhook delivery failed internally",
                   {{"webhook", name()},
                    {"outbox_id", subject_of_all.members.empty() ? subject_of_all.outbox_id
                                                                 : subject_of_all.members.front()},
                    {"error", e.what()}});
        auto record = subject_of_all;
        record.verdict = Verdict::retry;
        record.retry_delay = delay;
        record.error = std::string("internal error: ") + e.what();
        records.clear();
        records.push_back(std::move(record));
        finish(std::move(records), probe);
    }
}

}  // namespace sluice::outbox
