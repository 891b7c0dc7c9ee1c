// `sluice verify [NAME]`: proves completeness instead of promising it. For each projection (each
// part) and webhook, every event at or below its checkpoint that its filters match was applied or
// is parked, and for a webhook has an outbox row (daemon/commands/verify_unit.hpp says how).
// Read-only, in one REPEATABLE READ snapshot, so it runs beside a running daemon and every
// figure of one run belongs to one moment.
#include <algorithm>
#include <boost/json.hpp>
#include <iostream>

#include "daemon/commands/command.hpp"
#include "daemon/commands/commands.hpp"
#include "daemon/commands/verify_unit.hpp"
#include "daemon/json_text.hpp"
#include "daemon/units.hpp"
#include "engine/upcast_install.hpp"
#include "infra/pg/literal.hpp"

namespace sluice::daemon {

namespace json = boost::json;

namespace {

const char* const synopsis =
    "[NAME] --config FILE [--database-url URL] [--json]\n\n"
    "Proves that every event at or below a subscriber's checkpoint that its filters match\n"
    "(event_types, aggregate_types, handlers, upcaster renames, a webhook's filter:) was applied\n"
    "or is parked, and for a webhook has an outbox row. NAME is a projection (all its parts), a\n"
    "part NAME[k/N] or a webhook; without NAME, every projection and webhook of the config.\n"
    "Reads one consistent snapshot and writes nothing: safe beside a running daemon.\n"
    "Exit 0 when everything is complete; 1 when something is missing (its event ids are\n"
    "printed); 2 for an unknown NAME.";

struct Selected {
    std::string name;
    projections::Part part;
    const config::Webhook* webhook = nullptr;
};

std::string names_of(const config::Config& config) {
    std::string projections;
    std::string webhooks;
    for (const auto& p : config.projections)
        projections += (projections.empty() ? "" : ", ") + p.name;
    for (const auto& w : config.webhooks)
        webhooks += (webhooks.empty() ? "" : ", ") + w.name;
    return "projections: " + (projections.empty() ? "none" : projections) +
           "; webhooks: " + (webhooks.empty() ? "none" : webhooks);
}

// The subscribers NAME stands for (every projection part and webhook without one); UsageError
// naming what exists when it is none of them.
std::vector<Selected> selected_units(const config::Config& config,
                                     const std::optional<std::string>& name,
                                     const std::string& path) {
    std::vector<Selected> out;
    for (const auto& p : config.projections) {
        for (int i = 0; i < p.partitions; ++i) {
            const projections::Part part{i, p.partitions};
            const std::string unit = projections::part_name(p.name, part);
            if (!name || *name == p.name || *name == unit)
                out.push_back({unit, part, nullptr});
        }
    }
    for (const auto& w : config.webhooks) {
        if (!name || *name == w.name)
            out.push_back({w.name, {}, &w});
    }
    if (name && out.empty()) {
        throw UsageError("no projection or webhook named '" + *name + "' in " + path + " (" +
                         names_of(config) + ")");
    }
    return out;
}

void require_counter(pg::Connection& conn) {
    const bool counted = conn.exec(
                                 "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
                                 "'sluice.checkpoints'::regclass AND attname = 'applied_events')")
                             .boolean(0, 0);
    if (!counted) {
        throw UsageError(
            "this database's checkpoints have no applied-event counter yet: run sluice migrate "
            "(sluice run does it at start)");
    }
}

json::value missing_json(const std::optional<MissingEvents>& m) {
    if (!m)
        return nullptr;
    return json::object{{"count", m->count},
                        {"first_event_id", m->first_id},
                        {"last_event_id", m->last_id},
                        {"exact", m->exact}};
}

json::object verdict_json(const UnitVerdict& v) {
    return {{"name", v.name},
            {"kind", v.kind},
            {"complete", v.complete()},
            {"started", v.has_checkpoint},
            {"checkpoint", position_text(v.checkpoint)},
            {"counted_from", position_text(v.counted_from)},
            {"matching", v.matching},
            {"applied", v.applied},
            {"parked", v.parked},
            {"missing", missing_json(v.missing)},
            {"without_outbox", missing_json(v.without_outbox)},
            {"over_counted", v.over_counted}};
}

std::string events(std::int64_t n) {
    return std::to_string(n) + " event" + (n == 1 ? "" : "s");
}

void print_verdict(std::ostream& out, const UnitVerdict& v) {
    const std::string head = v.name + " (" + v.kind + "): ";
    if (!v.has_checkpoint) {
        out << head << "not started (no checkpoint): nothing to verify\n";
        return;
    }
    out << head << (v.complete() ? "complete" : "INCOMPLETE") << " up to "
        << position_text(v.checkpoint) << ": " << events(v.matching) << " matching, " << v.applied
        << " applied, " << v.parked << " parked";
    if (v.counted_from != engine::Position{}) {
        out << "; the counter starts at " << position_text(v.counted_from)
            << ", verified from there";
    }
    out << "\n";
    if (v.missing && v.missing->exact) {
        out << "  missing " << events(v.missing->count) << ", neither applied nor parked: first "
            << v.missing->first_id << ", last " << v.missing->last_id
            << " (commit order; the checkpoint was moved past them other than by sluice)\n";
    } else if (v.missing) {
        out << "  missing " << events(v.missing->count)
            << ", neither applied nor parked, somewhere between event " << v.missing->first_id
            << " and event " << v.missing->last_id
            << " (the counter cannot say which; e.g. a parked event dropped)\n";
    }
    if (v.over_counted) {
        out << "  more applied than match: the filters changed since the count started (a "
               "handler or type removed), or the checkpoint was moved back other than by "
               "sluice; rebuild it to verify it\n";
    }
    if (v.without_outbox) {
        out << "  " << events(v.without_outbox->count)
            << " matching but without an outbox row: first " << v.without_outbox->first_id
            << ", last " << v.without_outbox->last_id << " (commit order)\n";
    }
}

}  // namespace

int verify_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    options.add_options()("name", po::value<std::string>(), "the projection or webhook")(
        "config,c", po::value<std::string>()->required(),
        "config file: the filters, and the database")("database-url", po::value<std::string>(),
                                                      "default: the config's")(
        "json", po::bool_switch(), "print a JSON array, one object per projection part/webhook");
    po::positional_options_description positional;
    positional.add("name", 1);
    po::variables_map vm;
    if (!parse_options("verify", synopsis, options, args, vm, &positional))
        return exit_ok;
    const std::string path = vm["config"].as<std::string>();
    auto config = load_config_or_report(path);
    if (!config)
        return exit_usage;
    std::optional<std::string> name;
    if (vm.count("name") != 0U)
        name = vm["name"].as<std::string>();
    const auto selected = selected_units(*config, name, path);
    const auto units = units_of(*config);
    const std::string table = pg::quote_qualified(config->database.events_table);

    auto conn = pg::Connection::open(database_url(vm, config), 10, "sluice verify");
    require_sluice_schema(conn);
    require_counter(conn);
    // One snapshot for every figure. The upcast function a webhook's condition may need is
    // created for this transaction only (pg_temp, rolled back), before it turns read-only.
    conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
    const engine::Upcast upcast(config->upcasters, table, true);
    const bool webhooks =
        std::any_of(selected.begin(), selected.end(), [](const Selected& s) { return s.webhook; });
    if (webhooks && !upcast.empty()) {
        auto problems = engine::check_upcast(conn, upcast);
        if (!problems.empty())
            throw UsageError(config::format(problems.front()));
        conn.exec(upcast.install_sql());
    }
    conn.exec("SET TRANSACTION READ ONLY");
    std::vector<UnitVerdict> verdicts;
    for (const auto& s : selected) {
        const auto sink = units.at(s.name).make_sink();
        verdicts.push_back(verify_unit(
            conn, {sink.get(), s.part, s.webhook, &upcast, table, config->outbox.retention}));
    }
    conn.exec("ROLLBACK");

    const auto incomplete = std::count_if(verdicts.begin(), verdicts.end(),
                                          [](const UnitVerdict& v) { return !v.complete(); });
    if (vm["json"].as<bool>()) {
        json::array out;
        for (const auto& v : verdicts)
            out.push_back(verdict_json(v));
        std::cout << json_text(out) << "\n";
    } else {
        for (const auto& v : verdicts)
            print_verdict(std::cout, v);
        if (incomplete == 0) {
            std::cout << "verified " << verdicts.size() << ": complete\n";
        } else {
            std::cout << incomplete << " of " << verdicts.size()
                      << " incomplete (docs/operations.md, \"Verifying completeness\", says what "
                         "to do)\n";
        }
    }
    return incomplete == 0 ? exit_ok : exit_failure;
}

}  // namespace sluice::daemon
