// `sluice outbox status|list|show|retry|replay|enable`: operate the webhook outbox from the
// command line.
#include <algorithm>
#include <boost/json.hpp>
#include <iostream>
#include <map>
#include <set>

#include "config/validate.hpp"
#include "daemon/commands/command.hpp"
#include "daemon/commands/commands.hpp"
#include "daemon/commands/outbox_history.hpp"
#include "daemon/commands/table.hpp"
#include "daemon/json_text.hpp"
#include "infra/pg/literal.hpp"
#include "outbox/cli.hpp"
#include "store/sessions.hpp"

namespace sluice::daemon {

namespace json = boost::json;

namespace {

int status(pg::Connection& conn, const std::vector<std::string>& names, bool as_json) {
    auto rows = outbox::outbox_status(conn, names);
    if (as_json) {
        json::array out;
        for (const auto& s : rows) {
            out.push_back(
                json::object{{"webhook", s.webhook},
                             {"pending", s.pending},
                             {"due", s.due},
                             {"scheduled", s.scheduled},
                             {"dead", s.dead},
                             {"oldest_pending_age_seconds", or_null(s.oldest_pending_age_s)},
                             {"last_error", or_null(s.last_error)},
                             {"enabled", !s.disabled},
                             {"disabled_reason", or_null(s.disabled_reason)}});
        }
        std::cout << json::serialize(out) << "\n";
        return exit_ok;
    }
    TableRows table = {{"WEBHOOK", "ENABLED", "PENDING", "DUE", "IN FLIGHT/SCHEDULED", "DEAD",
                        "OLDEST", "LAST ERROR"}};
    for (const auto& s : rows) {
        std::string age =
            s.oldest_pending_age_s
                ? std::to_string(static_cast<long long>(*s.oldest_pending_age_s)) + "s"
                : "-";
        std::string error = clip(s.last_error.value_or(""), 60);
        table.push_back({s.webhook,
                         s.disabled ? "no (" + s.disabled_reason.value_or("disabled") + ")" : "yes",
                         std::to_string(s.pending), std::to_string(s.due),
                         std::to_string(s.scheduled), std::to_string(s.dead), age, error});
    }
    print_table(std::cout, table);
    if (rows.empty()) {
        std::cout << "(no webhook has outbox messages in this database; --config FILE lists the "
                     "configured ones)\n";
    }
    return exit_ok;
}

int list(pg::Connection& conn, const po::variables_map& vm, const std::string& events_table) {
    outbox::ListFilter filter;
    filter.enqueued = time_window(conn, vm);
    if (vm.count("event-type") != 0U)
        filter.event_type = vm["event-type"].as<std::string>();
    if (vm.count("webhook") != 0U)
        filter.webhook = vm["webhook"].as<std::string>();
    if (vm.count("state") != 0U) {
        filter.state = vm["state"].as<std::string>();
        if (*filter.state != "pending" && *filter.state != "dead" && *filter.state != "delivered") {
            throw UsageError("--state must be pending, dead or delivered");
        }
    }
    filter.limit = vm["limit"].as<int>();
    if (filter.limit < 1)
        throw UsageError("--limit must be 1 or more, got " + std::to_string(filter.limit));
    auto rows = outbox::outbox_list(conn, filter, events_table);
    if (vm["json"].as<bool>()) {
        for (const auto& e : rows) {
            std::cout << json::serialize(
                             json::object{{"id", e.id},
                                          {"webhook", e.webhook},
                                          {"event_id", e.event_id},
                                          {"event_type", or_null(e.event_type)},
                                          {"aggregate_id", e.aggregate_id},
                                          {"state", e.state},
                                          {"attempts", e.attempts},
                                          {"next_attempt_at", or_null(e.next_attempt_at)},
                                          {"enqueued_at", e.enqueued_at},
                                          {"delivered_at", or_null(e.delivered_at)},
                                          {"last_error", or_null(e.last_error)},
                                          {"batch", or_null(outbox::batch_request_id(e))}})
                      << "\n";
        }
        return exit_ok;
    }
    TableRows table = {{"ID", "WEBHOOK", "EVENT", "TYPE", "STATE", "ATTEMPTS", "NEXT ATTEMPT",
                        "BATCH", "LAST ERROR"}};
    for (const auto& e : rows) {
        std::string error = clip(e.last_error.value_or(""), 50);
        table.push_back({std::to_string(e.id), e.webhook, std::to_string(e.event_id),
                         e.event_type.value_or("-"), e.state, std::to_string(e.attempts),
                         e.next_attempt_at.value_or("-"), outbox::batch_request_id(e).value_or("-"),
                         error});
    }
    print_table(std::cout, table);
    return exit_ok;
}

// show's or retry's outbox ids; UsageError for anything that is not one.
std::vector<std::int64_t> outbox_ids(const std::vector<std::string>& args,
                                     const std::string& action) {
    std::vector<std::int64_t> ids;
    for (const auto& a : args) {
        try {
            std::size_t used = 0;
            ids.push_back(std::stoll(a, &used));
            if (used != a.size())
                throw std::invalid_argument(a);
        } catch (const std::exception&) {
            throw UsageError(action + ": '" + a + "' is not an outbox id");
        }
    }
    return ids;
}

std::string joined(const std::vector<std::int64_t>& ids) {
    std::string out;
    for (auto id : ids)
        out += (out.empty() ? "" : ", ") + std::to_string(id);
    return out;
}

// retry --webhook W: which messages to send again; dead by default, delivered ones only with
// --delivered.
std::string retry_state(const po::variables_map& vm) {
    std::string state = vm.count("state") != 0U ? vm["state"].as<std::string>() : "dead";
    if (state != "dead" && state != "pending" && state != "delivered") {
        throw UsageError("retry: --state must be dead, pending or delivered, got '" + state + "'");
    }
    const bool delivered = vm["delivered"].as<bool>();
    if (state == "delivered" && !delivered) {
        throw UsageError(
            "retry: --state delivered sends delivered messages again; pass --delivered too "
            "(nothing re-queued)");
    }
    if (state != "delivered" && delivered)
        throw UsageError("retry: --delivered with --webhook goes with --state delivered");
    return state;
}

// The checks retry's arguments need before connecting: ids, or --webhook W [--state S].
std::vector<std::int64_t> retry_ids(const po::variables_map& vm,
                                    const std::vector<std::string>& rest) {
    auto ids = outbox_ids(rest, "retry");
    const bool webhook = vm.count("webhook") != 0U;
    if (ids.empty() && !webhook)
        throw UsageError("retry: give outbox ids, or --webhook W [--state dead]");
    if (!ids.empty() && (webhook || vm.count("state") != 0U)) {
        throw UsageError(
            "retry: give outbox ids or --webhook W [--state S], not both (ids name their "
            "messages)");
    }
    if (webhook)
        (void)retry_state(vm);
    return ids;
}

int retry(pg::Connection& conn, const po::variables_map& vm, const std::vector<std::int64_t>& ids) {
    std::int64_t changed = 0;
    if (!ids.empty()) {
        auto outcome = outbox::retry_ids(conn, ids, vm["delivered"].as<bool>());
        const auto& unknown = outcome.unknown;
        if (!unknown.empty()) {
            throw UsageError(std::string(unknown.size() == 1
                                             ? "retry: no outbox message with id "
                                             : "retry: no outbox messages with ids ") +
                             joined(unknown) + " (nothing re-queued)");
        }
        const auto& delivered = outcome.delivered;
        if (!delivered.empty()) {
            throw UsageError(
                std::string(delivered.size() == 1 ? "retry: message " : "retry: messages ") +
                joined(delivered) + (delivered.size() == 1 ? " was" : " were") +
                " already delivered; pass --delivered to send " +
                (delivered.size() == 1 ? "it" : "them") + " again (nothing re-queued)");
        }
        changed = outcome.requeued;
    } else {
        changed = outbox::retry_webhook(conn, vm["webhook"].as<std::string>(), retry_state(vm));
    }
    std::cout << "re-queued " << changed << " message" << (changed == 1 ? "" : "s")
              << " (same webhook-id, attempts reset)\n";
    return exit_ok;
}

// The webhooks sluice knows: the config's (when given) and the database's, by name.
std::vector<std::string> webhook_names(pg::Connection& conn,
                                       const std::optional<config::Config>& config) {
    std::set<std::string> names;
    if (config) {
        for (const auto& w : config->webhooks)
            names.insert(w.name);
    }
    for (auto& name : outbox::known_webhooks(conn))
        names.insert(std::move(name));
    return {names.begin(), names.end()};
}

// UsageError unless `name` is a webhook of the config or the database; the message lists them.
void require_webhook(pg::Connection& conn, const std::optional<config::Config>& config,
                     const std::string& name) {
    auto names = webhook_names(conn, config);
    if (std::find(names.begin(), names.end(), name) != names.end())
        return;
    std::string known;
    for (const auto& n : names)
        known += (known.empty() ? "" : ", ") + n;
    known = known.empty() ? "no webhook is configured or has messages" : "webhooks: " + known;
    bool projection = config && std::any_of(config->projections.begin(), config->projections.end(),
                                            [&](const auto& p) { return p.name == name; });
    if (projection)
        throw UsageError("'" + name + "' is a projection, not a webhook (" + known + ")");
    throw UsageError("no webhook named '" + name + "' (" + known + ")");
}

// The events table named by --events-table, checked like the config's database.events_table.
std::string checked_events_table(const std::string& table) {
    if (auto problem = config::check_identifier(table, true); !problem.empty())
        throw UsageError("--events-table: " + problem);
    return table;
}

// UsageError for a flag the action does not take, instead of silently ignoring it.
void check_flags_of(const std::string& action, const po::variables_map& vm) {
    const std::map<std::string, std::set<std::string>> takes = {
        {"since", {"list", "replay"}},
        {"until", {"list", "replay"}},
        {"event-type", {"list", "replay"}},
        {"dry-run", {"replay"}},
        {"limit", {"list"}},
        {"json", {"status", "list", "show"}},
    };
    for (const auto& [flag, actions] : takes) {
        if (vm.count(flag) == 0U || vm[flag].defaulted() || actions.contains(action))
            continue;
        throw UsageError(action + " does not take --" + flag);
    }
    if (action == "replay" && vm.count("since") == 0U)
        throw UsageError(
            "replay: --since is required (a duration back from now such as 2h, or a time)");
}

po::options_description outbox_options() {
    po::options_description options("Options");
    options.add_options()("action", po::value<std::string>(),
                          "status | list | show | retry | replay | enable")(
        "args", po::value<std::vector<std::string>>()->multitoken(),
        "show, retry: outbox ids; replay, enable: the webhook name")(
        "config,c", po::value<std::string>(), "config file (for the database URL and webhooks)")(
        "database-url", po::value<std::string>(), "default: from --config or $DATABASE_URL")(
        "webhook", po::value<std::string>(), "list/retry: only this webhook")(
        "state", po::value<std::string>(),
        "list: pending | dead | delivered; retry --webhook: dead (default), pending (send now) "
        "or delivered (with --delivered)")("delivered", po::bool_switch(),
                                           "retry: also re-send messages already delivered")(
        "limit", po::value<int>()->default_value(100), "list: at most this many rows")(
        "since", po::value<std::string>(),
        "list: enqueued at or after; replay: delivered (or, dead, last attempted) at or after. "
        "A duration back from now (2h, 30min, 7d) or a time (2026-12-03T14:00:00Z)")(
        "until", po::value<std::string>(), "list, replay: before this (same forms as --since)")(
        "event-type", po::value<std::string>(), "list, replay: only messages of this event type")(
        "dry-run", po::bool_switch(),
        "replay: say how many messages it would re-send, re-send none")(
        "events-table", po::value<std::string>(),
        "the events table (default: the config's database.events_table, else events)")(
        "json", po::bool_switch(), "status, list, show: print JSON");
    return options;
}

}  // namespace

int outbox_command(const std::vector<std::string>& args) {
    const auto options = outbox_options();
    po::positional_options_description positional;
    positional.add("action", 1).add("args", -1);
    po::variables_map vm;
    if (!parse_options(
            "outbox",
            "status [--json]\n"
            "       sluice outbox list [--webhook W] [--state pending|dead|delivered] "
            "[--since TIME] [--until TIME] [--event-type T] [--json]\n"
            "       sluice outbox show ID [--json]\n"
            "       sluice outbox retry ID... [--delivered] | --webhook W [--state S] "
            "[--delivered]\n"
            "       sluice outbox replay WEBHOOK --since TIME [--until TIME] [--event-type T] "
            "[--dry-run]\n"
            "       sluice outbox enable NAME\n"
            "  (each with --config FILE or --database-url URL)",
            options, args, vm, &positional)) {
        return exit_ok;
    }
    if (vm.count("action") == 0U)
        throw UsageError("say what to do: status, list, show, retry, replay or enable");
    std::string action = vm["action"].as<std::string>();
    std::vector<std::string> rest;
    if (vm.count("args") != 0U)
        rest = vm["args"].as<std::vector<std::string>>();

    std::optional<config::Config> config;
    if (vm.count("config") != 0U) {
        config = load_config_or_report(vm["config"].as<std::string>());
        if (!config)
            return exit_usage;
    }
    const std::string url = database_url(vm, config);
    const std::set<std::string> actions = {"status", "list", "show", "retry", "replay", "enable"};
    if (!actions.contains(action)) {
        throw UsageError("unknown action '" + action +
                         "' (status, list, show, retry, replay or enable)");
    }
    std::string events_table = config ? config->database.events_table : "events";
    if (vm.count("events-table") != 0U)
        events_table = checked_events_table(vm["events-table"].as<std::string>());
    const std::string quoted_events_table = pg::quote_qualified(events_table);
    check_flags_of(action, vm);
    std::vector<std::int64_t> ids;
    if (action == "retry")
        ids = retry_ids(vm, rest);
    if ((action == "enable" || action == "replay") && rest.size() != 1)
        throw UsageError(action + ": give one webhook name");
    std::int64_t show_id = 0;
    if (action == "show") {
        if (rest.size() != 1)
            throw UsageError("show: give one outbox id");
        show_id = outbox_ids(rest, "show").front();
    }
    if ((action == "status" || action == "list") && !rest.empty())
        throw UsageError(action + " takes no arguments, got '" + rest.front() + "'");

    auto conn = pg::Connection::open(url, 10, std::string(store::sessions::outbox));
    require_sluice_schema(conn);
    if (action == "status") {
        std::vector<std::string> names;
        if (config) {
            for (const auto& w : config->webhooks)
                names.push_back(w.name);
        }
        return status(conn, names, vm["json"].as<bool>());
    }
    if (action == "enable" || action == "replay")
        require_webhook(conn, config, rest.front());
    else if (vm.count("webhook") != 0U)
        require_webhook(conn, config, vm["webhook"].as<std::string>());
    if (action == "list")
        return list(conn, vm, quoted_events_table);
    if (action == "show")
        return show_message(conn, show_id, quoted_events_table, vm["json"].as<bool>());
    if (action == "replay") {
        outbox::ReplayFilter filter{rest.front(), time_window(conn, vm), std::nullopt};
        if (vm.count("event-type") != 0U)
            filter.event_type = vm["event-type"].as<std::string>();
        return replay_messages(conn, filter, quoted_events_table, vm["dry-run"].as<bool>());
    }
    if (action == "retry")
        return retry(conn, vm, ids);
    // The configured notify target hears of it (without --config there is none to tell).
    std::optional<std::string> notify;
    if (config) {
        for (const auto& w : config->webhooks) {
            if (w.name == rest.front() && !w.notify.empty())
                notify = w.notify;
        }
    }
    bool was_disabled = outbox::enable(conn, rest.front(), notify);
    std::cout << (was_disabled ? "enabled " : "was not disabled: ") << rest.front() << "\n";
    return exit_ok;
}

}  // namespace sluice::daemon
