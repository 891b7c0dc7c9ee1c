// `sluice status`: every projection and webhook with position, lag, state, last error and
// owner — from the running daemon's /status when it answers (the units that instance owns),
// else from the database (every unit, with the instance that owns it).
#include <boost/json.hpp>
#include <iomanip>
#include <iostream>
#include <map>
#include <thread>

#include "daemon/commands/command.hpp"
#include "daemon/commands/commands.hpp"
#include "daemon/commands/http_get.hpp"
#include "daemon/commands/table.hpp"
#include "daemon/definitions.hpp"
#include "daemon/json_text.hpp"
#include "daemon/status_report.hpp"
#include "engine/lag.hpp"
#include "infra/http/listen_address.hpp"
#include "infra/pg/connection.hpp"
#include "infra/pg/literal.hpp"
#include "projections/definition.hpp"
#include "projections/partition.hpp"
#include "projections/snapshot_sink.hpp"
#include "store/definitions.hpp"
#include "store/parked.hpp"
#include "store/rebuilds.hpp"

namespace sluice::daemon {

namespace json = boost::json;

namespace {

// What the table's POSITION, LAG and LAG_S columns mean, printed under it.
constexpr const char* legend =
    "POSITION: transaction id/event id of the last event the unit handled (its checkpoint); "
    "LAG: events after it; LAG_S: age of the oldest of them, in seconds";

// Configured units by name ("projection", "webhook" or "snapshot"); empty without --config.
using Kinds = std::map<std::string, std::string>;

// The same shape as the daemon's /status, read from what the database knows. No daemon means
// no live state: STATE is "no daemon", KIND comes from the config.
// Each configured projection's definition against the one its read model was built by
// (store/definitions.hpp); none without a config, or before migration 22.
std::vector<DefinitionView> definitions_from_database(pg::Connection& conn,
                                                      const std::vector<config::Projection>& ps) {
    std::vector<DefinitionView> out;
    if (ps.empty() ||
        !conn.exec("SELECT to_regclass('sluice.projection_definitions') IS NOT NULL").boolean(0, 0))
        return out;
    std::vector<std::string> names;
    for (const auto& p : ps)
        names.push_back(p.name);
    auto r = conn.exec(store::definitions_sql, pg::Params(pg::text_array(names)));
    for (const auto& p : ps) {
        DefinitionView view{p.name, {}, to_string(p.on_change)};
        for (int i = 0; i < r.rows(); ++i) {
            if (r.text(i, 0) == p.name) {
                view.changed = projections::changed_parts(r.text(i, 1), r.text(i, 2),
                                                          projections::definition_of(p));
            }
        }
        out.push_back(std::move(view));
    }
    return out;
}

json::object status_from_database(const std::string& url, const std::string& events_table,
                                  const Kinds& kinds,
                                  const std::vector<config::Projection>& projections) {
    std::vector<std::string> names;
    for (const auto& [name, kind] : kinds)
        names.push_back(name);
    auto conn = pg::Connection::open(url, 10, "sluice status");
    require_sluice_schema(conn);
    std::string table = pg::quote_qualified(events_table);
    std::string names_array = pg::text_array(names);
    auto r = conn.exec(
        "SELECT c.name, c.transaction_id::text, c.event_id, lag.lag_events, lag.lag_seconds,"
        " (SELECT count(*) FROM sluice.parked_events p WHERE p.subscriber = c.name), " +
            store::quarantined_aggregates_sql("c.name") +
            ","
            " coalesce((SELECT o.instance_id FROM sluice.owners o WHERE o.name = c.name), '')"
            // Every configured unit (one that has not started yet is before the first event), or
            // without a config every unit with a checkpoint.
            " FROM (SELECT w.name, coalesce(k.transaction_id, '0') AS transaction_id,"
            "              coalesce(k.event_id, 0) AS event_id"
            "         FROM (SELECT unnest($1::text[]) AS name UNION SELECT name FROM"
            "               sluice.checkpoints WHERE cardinality($1::text[]) = 0) w"
            "         LEFT JOIN sluice.checkpoints k ON k.name = w.name) c"
            " CROSS JOIN LATERAL " +
            engine::lag_lateral(table, "c") + " lag ORDER BY c.name",
        pg::Params(names_array));
    json::array subs;
    for (int i = 0; i < r.rows(); ++i) {
        json::object o;
        std::string name(r.text(i, 0));
        auto kind = kinds.find(name);
        o["name"] = name;
        o["kind"] = kind == kinds.end() ? "-" : kind->second;
        o["state"] = "no daemon";
        o["position"] = json::object{{"transaction_id", std::string(r.text(i, 1))},
                                     {"event_id", r.int64(i, 2)}};
        o["lag_events"] = r.int64(i, 3);
        o["lag_seconds"] = std::strtod(std::string(r.text(i, 4)).c_str(), nullptr);
        o["parked"] = r.int64(i, 5);
        o["quarantined"] = r.int64(i, 6);
        o["last_error"] = "";
        o["owner"] = std::string(r.text(i, 7));
        subs.push_back(std::move(o));
    }
    json::object root;
    root["subscribers"] = std::move(subs);
    std::vector<RebuildView> rebuilds;
    // A database that no sluice with blue/green rebuilds has migrated has no such table.
    if (conn.exec("SELECT to_regclass('sluice.rebuilds') IS NOT NULL").boolean(0, 0))
        rebuilds = rebuild_views(conn.exec(store::rebuilds_sql));
    root["rebuilds"] = rebuilds_json(rebuilds);
    root["definitions"] = definitions_json(definitions_from_database(conn, projections));
    return root;
}

std::string cell(const json::value& v) {
    if (v.is_string())
        return std::string(v.as_string());
    if (v.is_null())
        return "-";
    if (v.is_double()) {
        std::ostringstream out;
        out << std::fixed << std::setprecision(1) << v.as_double();
        return out.str();
    }
    return json::serialize(v);
}

// A rejected reload: the daemon runs the previous config; say why the new one was refused.
void print_config_errors(const json::object& root) {
    auto it = root.find("config_errors");
    if (it == root.end() || !it->value().is_array() || it->value().as_array().empty())
        return;
    const auto& errors = it->value().as_array();
    std::cout << "last reload rejected (" << errors.size()
              << (errors.size() == 1 ? " error" : " errors")
              << "); the daemon still runs the previous configuration:\n";
    for (const auto& e : errors)
        std::cout << "  " << cell(e) << "\n";
}

// Blue/green rebuilds in progress or interrupted (store/rebuilds.hpp), printed under the table.
void print_rebuilds(const json::object& root) {
    const auto* rebuilds = root.if_contains("rebuilds");
    if (rebuilds == nullptr || !rebuilds->is_array())
        return;
    for (const auto& item : rebuilds->as_array()) {
        const auto& r = item.as_object();
        const std::string name = cell(r.at("projection"));
        const std::string command = cell(r.at("command"));
        const std::string phase = cell(r.at("phase"));
        auto get = [&](const char* k) { return r.contains(k) ? cell(r.at(k)) : std::string(); };
        const std::string by = get("instance").empty() ? "" : ", instance " + get("instance");
        const std::string why = get("reason").empty() ? "" : ", asked by " + get("reason");
        const std::string error = get("error");
        const std::string generation =
            get("generation").empty() ? "" : " (generation " + get("generation") + ")";
        if (phase == "done") {
            std::cout << command << " of " << name << ": done (" << get("done") << " events" << by
                      << ")\n";
        } else if (phase == "failed" || phase == "verify_failed") {
            std::cout << command << " of " << name << ": " << phase << by << ": " << error << "\n";
        } else if (phase == "requested") {
            std::cout << command << " of " << name << ": requested" << why
                      << " (waiting for an instance to take it)\n";
        } else if (r.at("running").as_bool()) {
            const std::string eta = get("eta_seconds");
            std::cout << command << " of " << name << generation << ": " << phase << " (for "
                      << cell(r.at("seconds")) << " s" << by << why << "), " << get("done") << "/"
                      << get("total") << " events, " << get("rate") << "/s"
                      << (eta.empty() || eta == "-" ? "" : ", ETA " + eta + " s") << "\n";
        } else {
            std::cout << command << " of " << name << ": interrupted while " << phase << " (sluice "
                      << command << " " << name << " goes on from where it stopped"
                      << (command == "rebuild" ? "; a running daemon takes it up by itself" : "")
                      << ")\n";
        }
    }
}

// Projections whose read model an older definition built (store/definitions.hpp).
void print_definitions(const json::object& root) {
    const auto* definitions = root.if_contains("definitions");
    if (definitions == nullptr || !definitions->is_array())
        return;
    for (const auto& item : definitions->as_array()) {
        const auto& d = item.as_object();
        if (cell(d.at("definition")) != "changed")
            continue;
        std::string changed;
        for (const auto& part : d.at("changed").as_array())
            changed += (changed.empty() ? "" : ", ") + cell(part);
        const std::string name = cell(d.at("projection"));
        std::cout << "projection " << name
                  << ": read model built by an older definition (changed: " << changed << "); "
                  << (cell(d.at("on_change")) == "rebuild"
                          ? "a blue/green rebuild is asked for (on_change: rebuild)"
                          : "rebuild it: sluice rebuild " + name)
                  << "\n";
    }
}

void print_status(const json::object& root, bool from_daemon) {
    TableRows rows = {{"NAME", "KIND", "STATE", "POSITION", "LAG", "LAG_S", "PARKED", "QUARANTINED",
                       "OWNER", "LAST ERROR"}};
    for (const auto& s : root.at("subscribers").as_array()) {
        const auto& o = s.as_object();
        const auto& pos = o.at("position").as_object();
        auto get = [&](const char* k) { return o.contains(k) ? cell(o.at(k)) : std::string("-"); };
        std::string error = o.contains("last_error") && o.at("last_error").is_string()
                                ? std::string(o.at("last_error").as_string())
                                : std::string();
        rows.push_back({get("name"), get("kind"), get("state"),
                        cell(pos.at("transaction_id")) + "/" + cell(pos.at("event_id")),
                        get("lag_events"), get("lag_seconds"), get("parked"), get("quarantined"),
                        get("owner"), clip(error, 60)});
    }
    daemon::print_table(std::cout, rows);
    if (rows.size() == 1 && from_daemon) {
        std::cout << "(this daemon runs no projection or webhook: other instances own them, or "
                     "its config has none)\n";
    } else if (rows.size() == 1) {
        // From the database without a config, only units that have run have a checkpoint.
        std::cout << "(no projection or webhook has run against this database yet; --config "
                     "FILE lists the configured ones)\n";
    }
    std::cout << "(" << legend << ")\n";
    if (root.contains("source"))
        std::cout << "(source: " << cell(root.at("source")) << ")\n";
    print_config_errors(root);
    print_rebuilds(root);
    print_definitions(root);
}

// The daemon's /status, or nullopt when no daemon answers at `address`. A daemon that has just
// started (`sluice run &` then `sluice status`) owns no unit yet: wait for it, a few seconds at
// most, rather than show an empty table.
std::optional<json::object> daemon_status(const std::string& address) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (true) {
        auto body = http_get(address, "/status", std::chrono::seconds(2));
        if (!body)
            return std::nullopt;
        boost::system::error_code ec;
        auto parsed = json::parse(*body, ec);
        if (ec || !parsed.is_object())
            throw std::runtime_error("daemon sent invalid /status JSON");
        const auto* reason = parsed.as_object().if_contains("reason");
        const bool starting = reason != nullptr && reason->is_string() && *reason == "starting";
        if (!starting || std::chrono::steady_clock::now() >= deadline)
            return std::move(parsed.as_object());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace

int status_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    options.add_options()("config,c", po::value<std::string>(),
                          "config file (for the HTTP address and the database URL)")(
        "http", po::value<std::string>(), "the daemon's HTTP address (default 127.0.0.1:9464)")(
        "database-url", po::value<std::string>(),
        "read from the database when no daemon answers (default: from --config or $DATABASE_URL)")(
        "json", po::bool_switch(), "print JSON");
    po::variables_map vm;
    if (!parse_options("status", "[--config FILE] [--http HOST:PORT] [--json]", options, args,
                       vm)) {
        return exit_ok;
    }
    std::optional<config::Config> config;
    if (vm.count("config") != 0U) {
        config = load_config_or_report(vm["config"].as<std::string>());
        if (!config) {
            // Likely the file of a reload the daemon rejected: it still answers, without it.
            std::cerr << "sluice status: the daemon's address and database come from "
                      << vm["config"].as<std::string>()
                      << "; --http HOST:PORT asks the daemon without it (a rejected reload is "
                         "listed under its table)\n";
            return exit_usage;
        }
    }
    std::string address = vm.count("http") != 0U ? vm["http"].as<std::string>()
                          : config               ? config->http.listen
                                                 : std::string("127.0.0.1:9464");
    if (vm.count("http") != 0U && !http::parse_listen_address(address)) {
        throw UsageError("--http '" + address + "' is not HOST:PORT (e.g. 127.0.0.1:9464)");
    }
    json::object root;
    bool from_daemon = false;
    if (auto answer = daemon_status(address)) {
        from_daemon = true;
        root = std::move(*answer);
        root["source"] = "daemon at " + address;
    } else {
        std::string url;
        if (vm.count("database-url") != 0U) {
            url = vm["database-url"].as<std::string>();
        } else if (config) {
            url = config->database.url;
        } else if (const char* env = std::getenv("DATABASE_URL"); env != nullptr && *env != '\0') {
            url = env;
        } else {
            throw UsageError("no daemon answered at " + address +
                             " and no database given (--config, --database-url or DATABASE_URL)");
        }
        Kinds kinds;
        if (config) {
            for (const auto& p : config->projections) {
                for (int i = 0; i < p.partitions; ++i)
                    kinds[projections::part_name(p.name, {i, p.partitions})] = "projection";
            }
            for (const auto& s : config->snapshots) {
                for (int i = 0; i < s.partitions; ++i)
                    kinds[projections::snapshot_subscriber(s.aggregate_type, {i, s.partitions})] =
                        "snapshot";
            }
            for (const auto& w : config->webhooks)
                kinds[w.name] = "webhook";
        }
        root =
            status_from_database(url, config ? config->database.events_table : "events", kinds,
                                 config ? config->projections : std::vector<config::Projection>{});
        root["source"] = "database (no daemon answered at " + address + ")";
    }
    if (vm["json"].as<bool>()) {
        std::cout << json_text(root) << "\n";
    } else {
        print_status(root, from_daemon);
    }
    return exit_ok;
}

}  // namespace sluice::daemon
