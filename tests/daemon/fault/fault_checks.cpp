// The views and checks of FaultTest that read who owns what (sluice.owners, /status, the
// ownership log lines) and what the webhook receiver got.
#include <boost/json.hpp>
#include <iostream>
#include <sstream>

#include "fault_fixture.hpp"

namespace sluice::testing::fault {
namespace {

namespace json = boost::json;

std::optional<std::string> logfmt_field(const std::string& line, const std::string& key) {
    std::string padded = " " + line;
    auto at = padded.find(" " + key + "=");
    if (at == std::string::npos)
        return std::nullopt;
    std::size_t pos = at + key.size() + 2;
    if (pos < padded.size() && padded[pos] == '"') {
        std::string value;
        for (++pos; pos < padded.size() && padded[pos] != '"'; ++pos) {
            if (padded[pos] == '\\' && pos + 1 < padded.size())
                ++pos;
            value += padded[pos];
        }
        return value;
    }
    auto end = padded.find(' ', pos);
    return padded.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items)
        out += (out.empty() ? "" : ",") + i;
    return out;
}

}  // namespace

InstanceStatus parse_instance_status(const std::string& body) {
    json::object root = json::parse(body).as_object();
    InstanceStatus s;
    s.instance = json::value_to<std::string>(root.at("instance"));
    for (const auto& item : root.at("subscribers").as_array()) {
        const auto& o = item.as_object();
        s.subscribers[json::value_to<std::string>(o.at("name"))] =
            json::value_to<std::string>(o.at("state"));
    }
    return s;
}

std::vector<OwnershipChange> ownership_changes(const std::string& log) {
    std::vector<OwnershipChange> out;
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        bool took = line.find("msg=\"took ownership\"") != std::string::npos;
        bool released = line.find("msg=\"released ownership\"") != std::string::npos;
        if (!took && !released)
            continue;
        if (auto name = logfmt_field(line, "name"))
            out.push_back({took, *name});
    }
    return out;
}

std::set<std::string> owned_per_log(const std::string& log) {
    std::set<std::string> owned;
    for (const auto& c : ownership_changes(log)) {
        if (c.took) {
            owned.insert(c.name);
        } else {
            owned.erase(c.name);
        }
    }
    return owned;
}

std::string FaultTest::ownership_problem(const std::vector<std::string>& units,
                                         Instances& instances, std::size_t max_per_instance) {
    auto own = owners();
    auto live = instances.live_pids();
    // A row outlives its lock (a restarted server, a dead session), so the lock is checked too,
    // with the key function and pg_locks lookup the migrations define.
    std::set<std::string> locked;
    auto held = conn().exec(
        "SELECT name FROM sluice.owners "
        "WHERE sluice.advisory_holder(sluice.owner_lock_key(name)) IS NOT NULL");
    for (int i = 0; i < held.rows(); ++i)
        locked.insert(std::string(held.text(i, 0)));
    std::string problem;
    std::map<int, std::vector<std::string>> by_pid;
    for (const auto& u : units) {
        auto it = own.find(u);
        if (it == own.end()) {
            problem += u + " has no owner; ";
        } else if (!locked.contains(u)) {
            problem += u + " has an owners row (pid " + std::to_string(it->second.pid) +
                       ") but nobody holds its lock; ";
        } else if (!live.contains(it->second.pid)) {
            problem += u + " is owned by pid " + std::to_string(it->second.pid) +
                       ", not a running instance; ";
        } else {
            by_pid[it->second.pid].push_back(u);
        }
    }
    for (const auto& [pid, names] : by_pid) {
        if (names.size() > max_per_instance) {
            problem += "pid " + std::to_string(pid) + " owns " + std::to_string(names.size()) +
                       " units (" + join(names) + "), more than " +
                       std::to_string(max_per_instance) + "; ";
        }
    }
    return problem;
}

std::string FaultTest::status_problem(Instances& instances) {
    auto own = owners();
    std::string problem;
    for (auto slot : instances.live_slots()) {
        auto& d = instances.at(slot);
        std::set<std::string> expected;
        std::set<std::string> ids;
        for (const auto& [name, o] : own) {
            if (o.pid == d.pid()) {
                expected.insert(name);
                ids.insert(o.instance_id);
            }
        }
        InstanceStatus st;
        try {
            auto r = d.http_get("/status");
            if (r.status != 200)
                return "instance " + std::to_string(slot) + ": /status answered " +
                       std::to_string(r.status);
            st = parse_instance_status(r.body);
        } catch (const std::exception& e) {
            return "instance " + std::to_string(slot) + ": " + e.what();
        }
        std::set<std::string> listed;
        for (const auto& [name, state] : st.subscribers)
            listed.insert(name);
        if (listed != expected) {
            problem += "instance " + std::to_string(slot) + " (pid " + std::to_string(d.pid()) +
                       ") /status lists {" +
                       join(std::vector<std::string>(listed.begin(), listed.end())) +
                       "} but sluice.owners gives it {" +
                       join(std::vector<std::string>(expected.begin(), expected.end())) + "}; ";
        }
        if (!ids.empty() && (ids.size() != 1 || *ids.begin() != st.instance)) {
            problem += "instance " + std::to_string(slot) + " reports id " + st.instance +
                       " but its owners rows say " +
                       join(std::vector<std::string>(ids.begin(), ids.end())) + "; ";
        }
    }
    return problem;
}

std::int64_t FaultTest::shipped_events() {
    return scalar("SELECT count(*) FROM events WHERE event_type = 'OrderShipped'");
}

std::int64_t FaultTest::delivered(const std::string& webhook) {
    return scalar("SELECT count(*) FROM sluice.outbox WHERE webhook = $1 AND state = 'delivered'",
                  pg::Params(webhook));
}

void FaultTest::expect_webhooks_complete(const HttpReceiver& receiver, const std::string& webhook) {
    auto ev = conn().exec("SELECT id FROM events WHERE event_type = 'OrderShipped'");
    std::set<std::int64_t> expected;
    for (int i = 0; i < ev.rows(); ++i)
        expected.insert(ev.int64(i, 0));

    std::map<std::int64_t, std::pair<std::string, std::string>> first;  // id, body
    std::size_t invalid = 0;
    std::size_t unexpected = 0;
    std::size_t changed = 0;
    std::size_t repeats = 0;
    std::string changed_example;
    auto requests = receiver.requests();
    for (const auto& r : requests) {
        std::int64_t event_id = 0;
        try {
            auto root = json::parse(r.body).as_object();
            event_id = root.at("data").as_object().at("id").as_int64();
        } catch (const std::exception& e) {
            ADD_FAILURE() << "a request that is not a webhook envelope (" << e.what()
                          << "): " << r.body.substr(0, 200);
            continue;
        }
        if (!r.signature_valid)
            ++invalid;
        if (!expected.contains(event_id))
            ++unexpected;
        auto [it, inserted] = first.try_emplace(event_id, r.webhook_id, r.body);
        if (!inserted) {
            ++repeats;
            if (it->second.first != r.webhook_id || it->second.second != r.body) {
                ++changed;
                changed_example = "event " + std::to_string(event_id) + ": " + it->second.first +
                                  " then " + r.webhook_id;
            }
        }
    }
    std::vector<std::int64_t> missing;
    for (auto id : expected) {
        if (!first.contains(id))
            missing.push_back(id);
    }
    std::string missing_example;
    for (std::size_t i = 0; i < missing.size() && i < 10; ++i)
        missing_example += std::to_string(missing[i]) + " ";
    EXPECT_TRUE(missing.empty()) << missing.size() << " of " << expected.size()
                                 << " OrderShipped events never reached the receiver: "
                                 << missing_example;
    EXPECT_EQ(invalid, 0u) << "requests with an invalid signature";
    EXPECT_EQ(unexpected, 0u) << "requests for events that are not OrderShipped";
    EXPECT_EQ(changed, 0u) << "a repeated message changed its webhook-id or body: "
                           << changed_example;
    expect_one_outbox_row_per_event(webhook);
    std::cerr << "[ fault ] webhook " << webhook << ": " << requests.size() << " requests for "
              << expected.size() << " events (" << repeats << " repeats)\n";
}

void FaultTest::expect_one_outbox_row_per_event(const std::string& webhook) {
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox WHERE webhook = $1", pg::Params(webhook)),
              shipped_events())
        << "the outbox must hold exactly one row per OrderShipped event";
    EXPECT_EQ(scalar("SELECT count(DISTINCT event_id) FROM sluice.outbox WHERE webhook = $1",
                     pg::Params(webhook)),
              shipped_events());
}

std::string FaultTest::diagnose(Instances& instances) {
    std::string out;
    try {
        out += "head " + head().to_string() + "\ncheckpoints:";
        for (const auto& [name, p] : checkpoints())
            out += " " + name + "=" + p.to_string();
        out += "\nowners:";
        for (const auto& [name, o] : owners())
            out += " " + name + "->pid " + std::to_string(o.pid) + " (heartbeat " +
                   std::to_string(o.heartbeat_age_seconds) + " s ago)";
        auto r = conn().exec(
            "SELECT coalesce(string_agg(webhook || ' ' || state || ' ' || n, ', '), 'empty') "
            "FROM (SELECT webhook, state, count(*)::text AS n FROM sluice.outbox "
            "GROUP BY webhook, state ORDER BY 1, 2) s");
        out += "\noutbox: " + std::string(r.text(0, 0)) + "\n";
    } catch (const std::exception& e) {
        out += std::string("\n(database query failed: ") + e.what() + ")\n";
    }
    return out + instances.describe();
}

}  // namespace sluice::testing::fault
