#include "webhook_fixture.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <random>
#include <stdexcept>

#include "store/event_writer.hpp"

namespace sluice::testing {
namespace {

namespace json = boost::json;

std::string random_uuid() {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    std::uniform_int_distribution<int> hex(0, 15);
    std::string out;
    const char* digits = "0123456789abcdef";
    for (int i = 0; i < 32; ++i) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out += '-';
        int d = hex(rng);
        if (i == 12)
            d = 4;  // version 4
        if (i == 16)
            d = 8 | (d & 3);  // RFC 4122 variant
        out += digits[d];
    }
    return out;
}

store::NewEvent event_for(const std::string& event_type, int version) {
    return {.event_type = event_type,
            .payload = R"({"version": )" + std::to_string(version) + R"(, "note": "e2e"})",
            .metadata = R"({"by": "webhooks e2e"})"};
}

}  // namespace

namespace {

Delivery delivery_of(const json::object& root, const ReceivedRequest& request) {
    const auto& data = root.at("data").as_object();
    Delivery d;
    d.webhook_id = request.webhook_id;
    d.type = json::value_to<std::string>(root.at("type"));
    d.timestamp = json::value_to<std::string>(root.at("timestamp"));
    d.event_id = data.at("id").as_int64();
    d.aggregate_id = json::value_to<std::string>(data.at("aggregate_id"));
    d.aggregate_type = json::value_to<std::string>(data.at("aggregate_type"));
    d.version = data.at("version").as_int64();
    d.body = request.body;
    d.signature_valid = request.signature_valid;
    return d;
}

}  // namespace

Delivery parse_delivery(const ReceivedRequest& request) {
    return delivery_of(json::parse(request.body).as_object(), request);
}

std::vector<Delivery> parse_batch(const ReceivedRequest& request) {
    std::vector<Delivery> out;
    const auto body = json::parse(request.body);
    for (const auto& element : body.as_array()) {
        const auto& root = element.as_object();
        auto d = delivery_of(root, request);
        d.webhook_id = json::value_to<std::string>(root.at("id"));
        out.push_back(std::move(d));
    }
    return out;
}

std::vector<Delivery> parse_deliveries(const std::vector<ReceivedRequest>& requests) {
    std::vector<Delivery> out;
    out.reserve(requests.size());
    for (const auto& r : requests)
        out.push_back(parse_delivery(r));
    return out;
}

std::string webhook_yaml(const std::string& name, const std::string& url, const std::string& extra,
                         const std::vector<std::string>& secrets) {
    std::string list;
    for (const auto& s : secrets)
        list += (list.empty() ? "\"" : ", \"") + s + "\"";
    std::string text =
        "  - name: " + name + "\n    url: \"" + url + "\"\n    secrets: [" + list + "]\n";
    if (extra.find("    timeout:") == std::string::npos)
        text += "    timeout: 2s\n";
    if (extra.find("    retry:") == std::string::npos)
        text += "    retry: {schedule: [100ms, 200ms, 300ms], jitter: 0%}\n";
    if (extra.find("    circuit:") == std::string::npos)
        text += "    circuit: {failures: 1000000}\n";
    return text + extra;
}

void WebhookTest::SetUp() {
    DaemonTest::SetUp();
    migrate();
}

std::string WebhookTest::write_config(const std::vector<std::string>& webhooks,
                                      const std::string& rest) {
    std::string text = base_config() + "webhooks:\n";
    for (const auto& w : webhooks)
        text += w;
    config_path_ = write_file("sluice.yaml", text + rest);
    return config_path_;
}

std::string WebhookTest::append_aggregate(int versions, const std::string& event_type) {
    store::EventWriter writer(conn());
    std::string id = random_uuid();
    std::vector<store::NewEvent> events;
    for (int v = 1; v <= versions; ++v)
        events.push_back(event_for(event_type, v));
    writer.append(id, "Order", 0, events);
    return id;
}

std::vector<std::string> WebhookTest::append_many(int aggregates, int versions) {
    std::vector<std::string> ids;
    std::vector<store::BulkEvent> events;
    for (int a = 0; a < aggregates; ++a) {
        ids.push_back(random_uuid());
        for (int v = 1; v <= versions; ++v)
            events.push_back({ids.back(), "Order", event_for("OrderPlaced", v), v, 0});
    }
    store::EventWriter writer(conn());
    auto report = writer.append_bulk(events);
    if (report.events_appended != static_cast<std::int64_t>(events.size()))
        throw std::runtime_error("bulk append wrote " + std::to_string(report.events_appended) +
                                 " events, expected " + std::to_string(events.size()));
    return ids;
}

std::int64_t WebhookTest::outbox_rows(const std::string& webhook, const std::string& state) {
    return scalar("SELECT count(*) FROM sluice.outbox WHERE webhook = $1 AND state = $2",
                  pg::Params(webhook, state));
}

bool WebhookTest::wait_outbox_rows(const std::string& webhook, const std::string& state,
                                   std::int64_t n, std::chrono::milliseconds timeout) {
    return wait_until([&] { return outbox_rows(webhook, state) == n; }, timeout);
}

namespace {

// `a="x",b="y"` as {`a="x"`, `b="y"`}, sorted. The tests' label values hold no commas.
std::vector<std::string> sorted_labels(std::string_view text) {
    std::vector<std::string> out;
    for (std::size_t at = 0; at < text.size();) {
        auto comma = std::min(text.find(',', at), text.size());
        if (comma > at)
            out.emplace_back(text.substr(at, comma - at));
        at = comma + 1;
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

std::optional<double> WebhookTest::metric(DaemonProcess& daemon, const std::string& name,
                                          const std::string& webhook,
                                          const std::string& extra_labels) {
    auto r = daemon.http_get("/metrics");
    if (r.status != 200)
        throw std::runtime_error("/metrics answered " + std::to_string(r.status));
    // The exposition may write the labels in any order: compare them as sets.
    const auto wanted = sorted_labels("webhook=\"" + webhook + "\"" + extra_labels);
    std::size_t pos = 0;
    while (pos < r.body.size()) {
        auto end = r.body.find('\n', pos);
        if (end == std::string::npos)
            end = r.body.size();
        std::string_view line(r.body.data() + pos, end - pos);
        pos = end + 1;
        const auto close = line.find("} ");
        if (!line.starts_with(name + "{") || close == std::string_view::npos)
            continue;
        if (sorted_labels(line.substr(name.size() + 1, close - name.size() - 1)) == wanted)
            return std::stod(std::string(line.substr(close + 2)));
    }
    return std::nullopt;
}

std::string WebhookTest::outbox_cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"outbox"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", config_path_});
    auto cli = DaemonProcess::spawn(argv);
    auto exit = cli.wait_exit(20s);
    std::string text;
    for (const auto& a : argv)
        text += " " + a;
    if (!exit) {
        ADD_FAILURE() << "sluice" << text << " did not finish within 20 s";
    } else if (!exit->is_exit(0)) {
        ADD_FAILURE() << "sluice" << text << " ended with " << exit->describe() << "\n"
                      << cli.output();
    }
    return cli.output();
}

std::string WebhookTest::diagnose(DaemonProcess& daemon) {
    std::string out;
    try {
        auto r = conn().exec(
            "SELECT coalesce(string_agg(webhook || ' ' || state || ' ' || n, ', '), 'empty') "
            "FROM (SELECT webhook, state, count(*)::text AS n FROM sluice.outbox "
            "GROUP BY webhook, state ORDER BY 1, 2) s");
        out += "outbox: " + std::string(r.text(0, 0)) + "\n";
    } catch (const std::exception& e) {
        out += std::string("outbox query failed: ") + e.what() + "\n";
    }
    return out + DaemonTest::diagnose(daemon);
}

}  // namespace sluice::testing
