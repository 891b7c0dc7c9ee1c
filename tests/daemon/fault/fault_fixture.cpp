#include "fault_fixture.hpp"

#include <cstdio>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace sluice::testing::fault {
namespace {

const std::vector<std::string> order_event_types = {"OrderCreated", "ItemAdded", "OrderShipped"};

const char* applied_table =
    "CREATE TABLE IF NOT EXISTS applied (event_id bigint PRIMARY KEY, applications int NOT NULL)";
const char* per_order_table =
    "CREATE TABLE IF NOT EXISTS per_order (order_id uuid PRIMARY KEY, events int NOT NULL, "
    "last_version int NOT NULL, out_of_order int NOT NULL)";

// A second application of an event is counted, not rejected, so the check can say how often.
const char* applied_handler =
    "INSERT INTO applied AS a (event_id, applications) VALUES (:id, 1)\n"
    "ON CONFLICT (event_id) DO UPDATE SET applications = a.applications + 1";
// Each order's events must arrive in version order with no gap: anything else is counted.
const char* per_order_handler =
    "INSERT INTO per_order AS p (order_id, events, last_version, out_of_order)\n"
    "VALUES (:aggregate_id, 1, :version, CASE WHEN :version = 1 THEN 0 ELSE 1 END)\n"
    "ON CONFLICT (order_id) DO UPDATE SET events = p.events + 1,\n"
    "  last_version = EXCLUDED.last_version,\n"
    "  out_of_order = p.out_of_order\n"
    "    + CASE WHEN EXCLUDED.last_version = p.last_version + 1 THEN 0 ELSE 1 END";

std::string indent(const std::string& text, const std::string& prefix) {
    std::string out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        out += prefix + line + "\n";
    return out;
}

std::uint64_t to_u64(std::string_view text) {
    return std::stoull(std::string(text));
}

}  // namespace

std::string ReadModelReport::to_string() const {
    return std::to_string(events) + " events: " + std::to_string(missing) + " never applied, " +
           std::to_string(repeated) + " applied more than once, " + std::to_string(unknown) +
           " applied but unknown, " + std::to_string(wrong_orders) +
           " orders with a wrong count or last version, " + std::to_string(out_of_order) +
           " applications out of version order" + (examples.empty() ? "" : " [" + examples + "]");
}

std::string projection_yaml(const std::string& name, bool applied, bool per_order, int partitions) {
    std::string setup;
    std::string handler;
    if (applied) {
        setup += std::string(applied_table) + ";\n";
        handler += std::string(applied_handler) + ";\n";
    }
    if (per_order) {
        setup += std::string(per_order_table) + ";\n";
        handler += std::string(per_order_handler) + ";\n";
    }
    std::string text = "  - name: " + name + "\n    setup: |\n" + indent(setup, "      ");
    if (partitions > 1)
        text += "    partitions: " + std::to_string(partitions) + "\n";
    text += "    handlers:\n";
    for (const auto& type : order_event_types)
        text += "      " + type + ": |\n" + indent(handler, "        ");
    // A handler failure is a bug here: stop, so the final checks name it.
    text += "    on_error: {retries: 3, backoff: 100ms, then: stop}\n";
    return text;
}

std::string webhook_yaml(const std::string& name, const std::string& url, int max_in_flight) {
    return "  - name: " + name + "\n    url: \"" + url + "\"\n    secrets: [\"" + webhook_secret +
           "\"]\n    event_types: [OrderShipped]\n    ordering: none\n    timeout: 2s\n" +
           "    max_in_flight: " + std::to_string(max_in_flight) +
           "\n    retry: {schedule: [100ms, 200ms, 500ms, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s], "
           "jitter: 0%}\n";
}

std::vector<std::string> part_names(const std::string& projection, int partitions) {
    if (partitions <= 1)
        return {projection};
    std::vector<std::string> out;
    for (int k = 1; k <= partitions; ++k)
        out.push_back(projection + "[" + std::to_string(k) + "/" + std::to_string(partitions) +
                      "]");
    return out;
}

std::string seconds_since(std::chrono::steady_clock::time_point t0) {
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(ms) / 1000.0);
    return buf;
}

void FaultTest::create_read_models() {
    conn().exec_script(std::string(applied_table) + ";" + per_order_table + ";");
}

std::int64_t FaultTest::load_orders(std::int64_t orders, int versions) {
    constexpr std::int64_t per_transaction = 2000;
    auto t0 = std::chrono::steady_clock::now();
    std::int64_t events = 0;
    for (std::int64_t from = 1; from <= orders; from += per_transaction) {
        std::int64_t to = std::min(orders, from + per_transaction - 1);
        auto r = conn().exec(
            "WITH ins AS (INSERT INTO events (aggregate_id, aggregate_type, version, event_type, "
            "payload) "
            "SELECT md5('order-' || o)::uuid, 'Order', v, "
            "CASE WHEN v = 1 THEN 'OrderCreated' WHEN v = $3 AND o % 10 = 0 THEN 'OrderShipped' "
            "ELSE 'ItemAdded' END, jsonb_build_object('order', o, 'v', v) "
            "FROM generate_series(1, $3::int) v, generate_series($1::bigint, $2::bigint) o "
            "ORDER BY v, o RETURNING 1) SELECT count(*) FROM ins",
            pg::Params(from, to, versions));
        events += r.int64(0, 0);
    }
    conn().exec("ANALYZE events");
    std::cerr << "[ fault ] loaded " << events << " events (" << orders << " orders) in "
              << seconds_since(t0) << "\n";
    return events;
}

std::string FaultTest::write_config(const std::string& units, const std::string& failover_after) {
    return write_file("sluice.yaml", base_config({.failover_after = failover_after}) + units);
}

std::map<std::string, Position> FaultTest::checkpoints() {
    auto r = conn().exec("SELECT name, transaction_id::text, event_id FROM sluice.checkpoints");
    std::map<std::string, Position> out;
    for (int i = 0; i < r.rows(); ++i)
        out[std::string(r.text(i, 0))] = {to_u64(r.text(i, 1)), r.int64(i, 2)};
    return out;
}

Position FaultTest::slowest(const std::vector<std::string>& units) {
    auto cps = checkpoints();
    std::optional<Position> low;
    for (const auto& u : units) {
        auto it = cps.find(u);
        Position p = it == cps.end() ? Position{} : it->second;
        if (!low || p < *low)
            low = p;
    }
    return low.value_or(Position{});
}

std::map<std::string, Owner> FaultTest::owners() {
    auto r = conn().exec(
        "SELECT name, instance_id, pid, extract(epoch FROM clock_timestamp() - heartbeat)::float8 "
        "FROM sluice.owners");
    std::map<std::string, Owner> out;
    for (int i = 0; i < r.rows(); ++i) {
        Owner o{std::string(r.text(i, 0)), std::string(r.text(i, 1)),
                static_cast<int>(r.int64(i, 2)), std::stod(std::string(r.text(i, 3)))};
        out[o.name] = o;
    }
    return out;
}

std::string FaultTest::behind_head(const std::vector<std::string>& units) {
    Position h = head();
    auto cps = checkpoints();
    std::string out;
    for (const auto& u : units) {
        auto it = cps.find(u);
        if (it == cps.end()) {
            out += u + " has no checkpoint; ";
        } else if (it->second != h) {
            out += u + " at " + it->second.to_string() + "; ";
        }
    }
    return out.empty() ? out : out + "head " + h.to_string();
}

bool FaultTest::wait_all_at_head(const std::vector<std::string>& units,
                                 std::chrono::milliseconds timeout) {
    return wait_until([&] { return behind_head(units).empty(); }, timeout);
}

std::string FaultTest::checkpoint_consistency_problem() {
    auto r = conn().exec(R"SQL(
        WITH k AS (SELECT name, transaction_id, event_id FROM sluice.checkpoints)
        SELECT (SELECT count(*) FROM applied),
               (SELECT coalesce(sum(applications), 0) FROM applied),
               (SELECT count(*) FROM events e, k WHERE k.name = 'applied'
                  AND (e.transaction_id, e.id) <= (k.transaction_id, k.event_id)),
               (SELECT coalesce(sum(events), 0) FROM per_order),
               (SELECT count(*) FROM events e, k WHERE k.name = 'per_order'
                  AND (e.transaction_id, e.id) <= (k.transaction_id, k.event_id))
    )SQL");
    std::int64_t rows = r.int64(0, 0);
    std::int64_t applications = r.int64(0, 1);
    std::int64_t applied_upto = r.int64(0, 2);
    std::int64_t per_order = r.int64(0, 3);
    std::int64_t per_order_upto = r.int64(0, 4);
    std::string problem;
    if (rows != applications || rows != applied_upto)
        problem += "applied: " + std::to_string(rows) + " events applied " +
                   std::to_string(applications) + " times, but " + std::to_string(applied_upto) +
                   " events up to its checkpoint; ";
    if (per_order != per_order_upto)
        problem += "per_order: " + std::to_string(per_order) + " events counted, but " +
                   std::to_string(per_order_upto) + " events up to its checkpoint; ";
    return problem;
}

ReadModelReport FaultTest::read_model() {
    auto r = conn().exec(R"SQL(
        WITH e AS (SELECT aggregate_id, count(*) AS n, max(version) AS mv
                     FROM events GROUP BY aggregate_id)
        SELECT (SELECT count(*) FROM events),
               (SELECT count(*) FROM events ev
                 WHERE NOT EXISTS (SELECT 1 FROM applied a WHERE a.event_id = ev.id)),
               (SELECT count(*) FROM applied WHERE applications > 1),
               (SELECT count(*) FROM applied a
                 WHERE NOT EXISTS (SELECT 1 FROM events ev WHERE ev.id = a.event_id)),
               (SELECT count(*) FROM e FULL JOIN per_order p ON p.order_id = e.aggregate_id
                 WHERE p.events IS DISTINCT FROM e.n OR p.last_version IS DISTINCT FROM e.mv),
               (SELECT coalesce(sum(out_of_order), 0) FROM per_order)
    )SQL");
    ReadModelReport rep{r.int64(0, 0),
                        r.int64(0, 1),
                        r.int64(0, 2),
                        r.int64(0, 3),
                        r.int64(0, 4),
                        r.int64(0, 5),
                        ""};
    if (!rep.exact()) {
        auto ex = conn().exec(R"SQL(
            SELECT concat_ws('; ',
              'never applied: ' || (SELECT string_agg(id::text, ',') FROM (SELECT id FROM events ev
                 WHERE NOT EXISTS (SELECT 1 FROM applied a WHERE a.event_id = ev.id)
                 ORDER BY id LIMIT 10) s),
              'applied n times: ' || (SELECT string_agg(event_id || 'x' || applications, ',')
                 FROM (SELECT * FROM applied WHERE applications > 1 ORDER BY event_id LIMIT 10) s),
              'out of order: ' || (SELECT string_agg(order_id::text, ',')
                 FROM (SELECT order_id FROM per_order WHERE out_of_order > 0 LIMIT 5) s))
        )SQL");
        rep.examples = std::string(ex.text(0, 0));
    }
    return rep;
}

void FaultTest::expect_read_model_exact(const std::string& when) {
    auto rep = read_model();
    EXPECT_TRUE(rep.exact()) << when << ": read models not exact: " << rep.to_string();
}

}  // namespace sluice::testing::fault
