// `sluice parked list|retry|drop`: the events a subscriber parked after its handler kept failing
// (on_error.then: park, and quarantine: with the later events of its aggregate parked behind it):
// shown in commit order, applied again through the config's current handlers
// (daemon/commands/parked_retry.cpp), or discarded on purpose.
#include <boost/json.hpp>
#include <iostream>
#include <set>

#include "daemon/commands/command.hpp"
#include "daemon/commands/commands.hpp"
#include "daemon/commands/parked_retry.hpp"
#include "daemon/commands/table.hpp"
#include "daemon/json_text.hpp"
#include "daemon/units.hpp"
#include "infra/pg/literal.hpp"
#include "store/parked.hpp"

namespace sluice::daemon {

namespace json = boost::json;

namespace {

const char* const overview =
    "Usage: sluice parked list [NAME] [--config FILE | --database-url URL] [--json]\n"
    "       sluice parked retry NAME (--event ID | --all) --config FILE\n"
    "       sluice parked drop NAME (--event ID | --all) [--config FILE | --database-url URL]\n"
    "\n"
    "Events a subscriber parked after its handler kept failing (on_error.then: park), and\n"
    "with then: quarantine every later event of the same aggregate, parked behind the first:\n"
    "  list   show them in commit order, with their error and SQLSTATE, and for a quarantined\n"
    "         aggregate's events which one they are behind (BEHIND)\n"
    "  retry  apply them through the config's current handlers, in commit order, each in one\n"
    "         transaction with the removal of its parked row; stops at the first that fails;\n"
    "         the first event of a quarantined aggregate releases the events behind it\n"
    "  drop   discard them on purpose (dropping a quarantined aggregate's first event leaves\n"
    "         the aggregate quarantined behind its next one)\n"
    "NAME is a projection (with all its parts), a part NAME[k/N] or a webhook.\n"
    "sluice parked ACTION --help shows the options of each.\n\n";

std::string joined(const auto& items) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : ", ") + item;
    return out;
}

// The names NAME may take: every unit of the config (projections, their parts, webhooks) and
// every subscriber the database knows; `shown` lists them in messages, parts folded into their
// projection.
struct Names {
    std::set<std::string> accepted;
    std::set<std::string> shown;
};

Names subscriber_names(const std::optional<config::Config>& config,
                       const std::vector<std::string>& in_database) {
    Names names;
    std::vector<std::string> all = in_database;
    if (config) {
        for (const auto& [unit, definition] : units_of(*config))
            all.push_back(unit);
    }
    for (const auto& name : all) {
        names.accepted.insert(name);
        names.shown.insert(name.substr(0, name.find('[')));
    }
    names.accepted.insert(names.shown.begin(), names.shown.end());
    return names;
}

// UsageError unless `name` is one of `names`; the message lists them. `where`: " in FILE" when
// only the config's names count.
void require_subscriber(const Names& names, const std::string& name, const std::string& where) {
    if (names.accepted.contains(name))
        return;
    throw UsageError("no subscriber named '" + name + "'" + where + " (" +
                     (names.shown.empty() ? std::string("none is configured or has a checkpoint")
                                          : "subscribers: " + joined(names.shown)) +
                     ")");
}

// The parked events of `name` that --event ID or --all selects. UsageError when ID is not
// parked for it (the message lists what is: the first few ids), and for `retry` when ID is
// parked behind an earlier event of its quarantined aggregate (only the first releases it, in
// order).
std::vector<store::ParkedEvent> selected(std::vector<store::ParkedEvent> parked,
                                         const std::string& name, const std::string& action,
                                         std::optional<std::int64_t> event_id) {
    if (!event_id)
        return parked;
    for (auto& p : parked) {
        if (p.event_id != *event_id)
            continue;
        if (action == "retry" && p.behind) {
            const std::string first = std::to_string(*p.behind);
            throw UsageError("event " + std::to_string(p.event_id) + " of " + p.subscriber +
                             " is quarantined behind event " + first + " of its aggregate; retry " +
                             first + ", which releases the aggregate's events in order");
        }
        return {std::move(p)};
    }
    constexpr std::size_t shown = 20;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < parked.size() && i < shown; ++i)
        ids.push_back(std::to_string(parked[i].event_id));
    std::string what = parked.empty() ? "nothing is parked for it" : "parked: " + joined(ids);
    if (parked.size() > shown)
        what += ", ... (" + std::to_string(parked.size()) + " in all)";
    throw UsageError("event " + std::to_string(*event_id) + " is not parked for " + name + " (" +
                     what + ")");
}

// "-" for an event parked on its own, "first" for the first event of a quarantined aggregate,
// the first's id for the events parked behind it.
std::string behind_cell(const store::ParkedEvent& p) {
    if (!p.quarantine)
        return "-";
    return p.behind ? std::to_string(*p.behind) : std::string("first");
}

void print_list(const std::vector<store::ParkedEvent>& parked,
                const std::optional<std::string>& name, bool as_json) {
    if (as_json) {
        json::array out;
        for (const auto& p : parked) {
            out.push_back(json::object{{"subscriber", p.subscriber},
                                       {"event_id", p.event_id},
                                       {"transaction_id", std::to_string(p.transaction_id)},
                                       {"aggregate_id", or_null(p.aggregate_id)},
                                       {"aggregate_type", or_null(p.aggregate_type)},
                                       {"event_type", or_null(p.event_type)},
                                       {"parked_at", p.parked_at},
                                       {"sqlstate", or_null(p.sqlstate)},
                                       {"error", p.error},
                                       {"quarantine", p.quarantine},
                                       {"behind", or_null(p.behind)}});
        }
        std::cout << json::serialize(out) << "\n";
        return;
    }
    if (parked.empty()) {
        std::cout << "no parked events" << (name ? " of " + *name : std::string()) << "\n";
        return;
    }
    TableRows table = {{"SUBSCRIBER", "EVENT", "TRANSACTION", "AGGREGATE ID", "AGGREGATE TYPE",
                        "EVENT TYPE", "PARKED AT", "SQLSTATE", "BEHIND", "ERROR"}};
    for (const auto& p : parked) {
        table.push_back({p.subscriber, std::to_string(p.event_id), std::to_string(p.transaction_id),
                         p.aggregate_id.value_or("-"), p.aggregate_type.value_or("-"),
                         p.event_type.value_or("-"), p.parked_at, p.sqlstate.value_or("-"),
                         behind_cell(p), clip(p.error, 60)});
    }
    print_table(std::cout, table);
}

std::string plural(std::int64_t n, const std::string& word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// The options every action has, and those of `list` or of `retry` and `drop`.
po::options_description action_options(const std::string& action) {
    po::options_description options("Options");
    options.add_options()("name", po::value<std::string>(), "the subscriber");
    if (action == "retry") {
        options.add_options()("config,c", po::value<std::string>()->required(),
                              "config file: the handlers to apply with, and the database");
    } else {
        options.add_options()("config,c", po::value<std::string>(),
                              action == "list"
                                  ? "config file (database URL, events table, subscriber names)"
                                  : "config file (database URL, subscriber names)")(
            "database-url", po::value<std::string>(), "default: from --config or $DATABASE_URL");
    }
    if (action == "list") {
        options.add_options()("events-table", po::value<std::string>(),
                              "the events table (default: the config's, else events)")(
            "json", po::bool_switch(), "print a JSON array");
    } else {
        options.add_options()("event", po::value<std::int64_t>(), "the parked event's id")(
            "all", po::bool_switch(), "every parked event of NAME");
    }
    return options;
}

const char* synopsis(const std::string& action) {
    if (action == "list")
        return "[NAME] [--config FILE | --database-url URL] [--json]";
    if (action == "retry") {
        return "NAME (--event ID | --all) --config FILE\n\n"
               "Applies the parked events through the handlers in FILE, in commit order, each in\n"
               "one transaction with the removal of its parked row (under the subscriber's lock:\n"
               "a running daemon waits for it). Stops at the first that fails; it stays parked\n"
               "and the events before it stay applied (exit code 1). The first event of a\n"
               "quarantined aggregate (on_error.then: quarantine) releases the aggregate: the\n"
               "events parked behind it follow in version order; one that fails again stays\n"
               "parked, and the aggregate stays quarantined behind it.";
    }
    return "NAME (--event ID | --all) [--config FILE | --database-url URL]\n\n"
           "Discards parked events on purpose: their effects are never applied. Dropping the\n"
           "first event of a quarantined aggregate drops only that one: the aggregate stays\n"
           "quarantined, behind its next parked event, until that is retried or dropped.";
}

// Every action's options, for `sluice parked --help`.
po::options_description all_options() {
    po::options_description options("Options");
    options.add_options()("config,c",
                          "config file (required by retry: the handlers to apply with)")(
        "database-url", "list, drop: default from --config or $DATABASE_URL")(
        "events-table", "list: the events table (default: the config's, else events)")(
        "json", "list: print a JSON array")("event", "retry, drop: the parked event's id")(
        "all", "retry, drop: every parked event of NAME")(
        "help,h", "show this help; ACTION --help shows the options of one action");
    return options;
}

}  // namespace

int parked_command(const std::vector<std::string>& args) {
    if (!args.empty() && (args.front() == "--help" || args.front() == "-h")) {
        std::cout << overview << all_options() << "\n" << exit_codes_help;
        return exit_ok;
    }
    if (args.empty())
        throw UsageError("say what to do: list, retry or drop (see sluice parked --help)");
    const std::string action = args.front();
    if (action != "list" && action != "retry" && action != "drop")
        throw UsageError("unknown action '" + action + "' (list, retry or drop)");

    const auto options = action_options(action);
    po::positional_options_description positional;
    positional.add("name", 1);
    po::variables_map vm;
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (!parse_options("parked " + action, synopsis(action), options, rest, vm, &positional))
        return exit_ok;
    std::optional<std::string> name;
    if (vm.count("name") != 0U)
        name = vm["name"].as<std::string>();
    std::optional<std::int64_t> event_id;
    if (action != "list") {
        if (!name)
            throw UsageError(action + ": name the subscriber (see sluice parked " + action +
                             " --help)");
        if (vm.count("event") != 0U)
            event_id = vm["event"].as<std::int64_t>();
        if (event_id.has_value() == vm["all"].as<bool>())
            throw UsageError(action + ": give either --event ID or --all");
    }

    std::optional<config::Config> config;
    if (vm.count("config") != 0U) {
        config = load_config_or_report(vm["config"].as<std::string>());
        if (!config)
            return exit_usage;
    }
    if (action == "retry") {
        require_subscriber(subscriber_names(config, {}), *name,
                           " in " + vm["config"].as<std::string>());
    }
    auto conn = pg::Connection::open(database_url(vm, config), 10, "sluice parked");
    if (name && action != "retry")
        require_subscriber(subscriber_names(config, store::known_subscribers(conn)), *name, "");
    std::string table = config ? config->database.events_table : "events";
    if (vm.count("events-table") != 0U)
        table = vm["events-table"].as<std::string>();
    auto parked = store::parked_events(conn, pg::quote_qualified(table), name);
    if (action == "list") {
        print_list(parked, name, vm["json"].as<bool>());
        return exit_ok;
    }
    auto chosen = selected(std::move(parked), *name, action, event_id);
    if (action == "retry")
        return retry_parked_events(*config, *name, std::move(chosen), event_id.has_value());
    const std::int64_t dropped = store::drop_parked(conn, *name, event_id);
    if (event_id && dropped == 0) {
        throw UsageError("event " + std::to_string(*event_id) + " is not parked for " + *name +
                         " (retried or dropped meanwhile)");
    }
    std::cout << "dropped " << plural(dropped, "parked event") << " of " << *name << "\n";
    return exit_ok;
}

}  // namespace sluice::daemon
