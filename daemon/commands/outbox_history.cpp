#include "daemon/commands/outbox_history.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "config/units.hpp"
#include "daemon/commands/table.hpp"
#include "daemon/json_text.hpp"
#include "infra/pg/error.hpp"
#include "infra/pg/literal.hpp"
#include "outbox/envelope.hpp"

namespace sluice::daemon {

namespace json = boost::json;

namespace {

// One bound of the window, as the server reads it (ISO 8601 UTC).
std::string time_bound(pg::Connection& conn, const std::string& flag, const std::string& text) {
    if (auto back = config::parse_duration(text); back.value) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*back.value).count();
        return std::string(
            conn.exec("SELECT " + pg::iso_utc("(now() - $1::bigint * interval '1 millisecond')"),
                      pg::Params(static_cast<std::int64_t>(ms)))
                .text(0, 0));
    }
    try {
        return std::string(
            conn.exec("SELECT " + pg::iso_utc("$1::timestamptz"), pg::Params(text)).text(0, 0));
    } catch (const pg::ServerError&) {
        throw UsageError("--" + flag + " '" + text +
                         "' is neither a duration back from now (2h, 30min, 7d) nor a time "
                         "(2026-12-03T14:00:00Z)");
    }
}

std::string plural(std::int64_t n, const std::string& what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

std::string event_of(const outbox::OutboxEntry& e) {
    std::string out = std::to_string(e.event_id);
    if (e.event_type)
        out += " " + *e.event_type + " (version " + std::to_string(e.version.value_or(0)) + ")";
    else
        out += " (no longer in the events table)";
    return out + ", aggregate " + e.aggregate_id;
}

}  // namespace

outbox::TimeWindow time_window(pg::Connection& conn, const po::variables_map& vm) {
    outbox::TimeWindow window;
    if (vm.count("since") != 0U)
        window.since = time_bound(conn, "since", vm["since"].as<std::string>());
    if (vm.count("until") != 0U)
        window.until = time_bound(conn, "until", vm["until"].as<std::string>());
    if (window.since && window.until &&
        conn.exec("SELECT $1::timestamptz >= $2::timestamptz",
                  pg::Params(*window.since, *window.until))
            .boolean(0, 0)) {
        throw UsageError("--until (" + *window.until + ") must come after --since (" +
                         *window.since + ")");
    }
    return window;
}

int show_message(pg::Connection& conn, std::int64_t id, const std::string& quoted_events_table,
                 bool as_json) {
    auto history = outbox::outbox_show(conn, id, quoted_events_table);
    if (!history)
        throw UsageError("show: no outbox message with id " + std::to_string(id));
    const auto& m = history->message;
    const std::string webhook_id = outbox::own_message_id(m);
    const auto batch = outbox::batch_request_id(m);
    if (as_json) {
        json::array attempts;
        for (const auto& a : history->attempts) {
            attempts.push_back(json::object{{"attempted_at", a.attempted_at},
                                            {"status", or_null(a.status)},
                                            {"error", or_null(a.error)},
                                            {"duration_ms", a.duration_ms},
                                            {"response", or_null(a.response)}});
        }
        std::cout << json_text(json::object{{"id", m.id},
                                            {"webhook", m.webhook},
                                            {"webhook_id", webhook_id},
                                            {"batch", or_null(batch)},
                                            {"event_id", m.event_id},
                                            {"event_type", or_null(m.event_type)},
                                            {"aggregate_id", m.aggregate_id},
                                            {"state", m.state},
                                            {"attempts", m.attempts},
                                            {"next_attempt_at", or_null(m.next_attempt_at)},
                                            {"enqueued_at", m.enqueued_at},
                                            {"delivered_at", or_null(m.delivered_at)},
                                            {"attempt_log", std::move(attempts)}})
                  << "\n";
        return exit_ok;
    }
    std::string state = m.state;
    if (m.delivered_at)
        state += " at " + *m.delivered_at;
    if (m.next_attempt_at)
        state += ", next attempt at " + *m.next_attempt_at;
    print_table(std::cout,
                {{"message", std::to_string(m.id) + " of webhook " + m.webhook},
                 {"webhook-id", batch ? webhook_id + ", in batch " + *batch : webhook_id},
                 {"event", event_of(m)},
                 {"state", state},
                 {"enqueued", m.enqueued_at},
                 {"attempts", std::to_string(m.attempts) + " since last queued, " +
                                  std::to_string(history->attempts.size()) + " recorded"}});
    if (history->attempts.empty())
        return exit_ok;
    TableRows table = {{"ATTEMPTED AT", "STATUS", "DURATION", "ERROR", "RESPONSE"}};
    for (const auto& a : history->attempts) {
        char duration[32];
        std::snprintf(duration, sizeof duration, "%.1f ms", a.duration_ms);
        table.push_back({a.attempted_at, a.status ? std::to_string(*a.status) : "-", duration,
                         clip(a.error.value_or(""), 50), clip(a.response.value_or(""), 60)});
    }
    std::cout << "\n";
    print_table(std::cout, table);
    return exit_ok;
}

int replay_messages(pg::Connection& conn, const outbox::ReplayFilter& filter,
                    const std::string& quoted_events_table, bool dry_run) {
    auto outcome = outbox::replay(conn, filter, quoted_events_table, dry_run);
    const std::int64_t total = outcome.delivered + outcome.dead;
    std::string window = "settled since " + filter.settled.since.value_or("the first message");
    if (filter.settled.until)
        window += " and before " + *filter.settled.until;
    if (filter.event_type)
        window += ", of type " + *filter.event_type;
    if (total == 0) {
        std::cout << "no delivered or dead messages of " << filter.webhook << " " << window << "\n";
        return exit_ok;
    }
    std::cout << (dry_run ? "would replay " : "replayed ") << plural(total, "message") << " of "
              << filter.webhook << " (" << outcome.delivered << " delivered, " << outcome.dead
              << " dead) " << window;
    std::cout << (dry_run ? "; nothing re-queued (--dry-run)\n"
                          : ": re-queued with the same webhook-id and body, fresh attempts\n");
    return exit_ok;
}

}  // namespace sluice::daemon
