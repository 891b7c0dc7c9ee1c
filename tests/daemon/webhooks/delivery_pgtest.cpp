// Webhooks end to end through `sluice run`: events appended with the writer reach the endpoint
// once each, signed with every configured secret, in the documented envelope; and an endpoint
// that never answers delays neither another webhook nor the projections.
#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "webhook_fixture.hpp"

namespace sluice::testing {
namespace {

class WebhookDelivery : public WebhookTest {};

TEST_F(WebhookDelivery, EachEventArrivesOnceSignedWithEverySecretInTheEnvelope) {
    // One receiver checks the first secret, the other the second: both must verify.
    HttpReceiver checks_a({.secrets = {secret_a}});
    HttpReceiver checks_b({.secrets = {secret_b}});
    write_config({webhook_yaml("orders", checks_a.url(), "", {secret_a, secret_b}),
                  webhook_yaml("audit", checks_b.url(), "", {secret_a, secret_b})});
    auto first = append_aggregate(2);
    auto second = append_aggregate(1, "OrderShipped");
    auto daemon = DaemonProcess::start(config_path_);

    ASSERT_TRUE(wait_outbox_rows("orders", "delivered", 3, 20s)) << diagnose(daemon);
    ASSERT_TRUE(wait_outbox_rows("audit", "delivered", 3, 20s)) << diagnose(daemon);

    auto events = conn().exec(
        "SELECT id, aggregate_id::text, version, event_type, "
        "to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
        "FROM events ORDER BY id");
    ASSERT_EQ(events.rows(), 3);
    for (auto* receiver : {&checks_a, &checks_b}) {
        std::string webhook = receiver == &checks_a ? "orders" : "audit";
        auto got = parse_deliveries(receiver->requests());
        ASSERT_EQ(got.size(), 3u) << webhook << ": each event exactly once";
        std::map<std::int64_t, sluice::testing::Delivery> by_event;
        for (const auto& d : got)
            by_event[d.event_id] = d;
        for (int i = 0; i < events.rows(); ++i) {
            auto id = events.int64(i, 0);
            ASSERT_TRUE(by_event.contains(id)) << webhook << ": event " << id << " missing";
            const auto& d = by_event[id];
            EXPECT_TRUE(d.signature_valid) << webhook << ": event " << id;
            EXPECT_EQ(d.webhook_id, "msg_" + webhook + "_" + std::to_string(id));
            EXPECT_EQ(d.aggregate_id, events.text(i, 1));
            EXPECT_EQ(d.aggregate_type, "Order");
            EXPECT_EQ(d.version, events.int64(i, 2));
            EXPECT_EQ(d.type, events.text(i, 3));
            EXPECT_EQ(d.timestamp, events.text(i, 4));
            EXPECT_NE(d.body.find(R"("payload":{"note": "e2e", "version": )"), std::string::npos)
                << d.body;
            EXPECT_NE(d.body.find(R"("metadata":{"by": "webhooks e2e"})"), std::string::npos)
                << d.body;
        }
    }
    auto request = checks_a.requests().front();
    auto signature = request.header("webhook-signature").value_or("");
    EXPECT_EQ(std::count(signature.begin(), signature.end(), ' '), 1)
        << "two secrets: two v1 signatures, got '" << signature << "'";
    EXPECT_EQ(request.header("content-type"), "application/json");
    (void)first;
    (void)second;
}

// Bodies of every shape the events table allows match the shipped JSON Schema (checked with
// python3-jsonschema), and an event's W3C trace context reaches the receiver as headers.
TEST_F(WebhookDelivery, BodiesMatchTheShippedSchemaAndTheEventsTraceContextIsForwarded) {
    HttpReceiver receiver({.secrets = {secret_a}});
    write_config({webhook_yaml("orders", receiver.url())});
    const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    // payload, metadata (NULL when empty), timestamp (NULL when empty)
    const std::vector<std::array<std::string, 3>> shapes = {
        {R"({"total": 12.50, "big": 123456789012345678901234567890})",
         R"({"traceparent": ")" + traceparent + R"(", "tracestate": "rojo=00f067aa0ba902b7"})", ""},
        {R"([1, "two", null])", "", ""},
        {R"("just a string")", R"({"traceparent": "not-a-traceparent", "tracestate": "a=b"})",
         "2024-02-29 23:59:59.5+02"},
        {R"({"text": "Grüße, \"quoted\"\n", "empty": {}})", R"([])", ""},
    };
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        const auto& [payload, metadata, timestamp] = shapes[i];
        conn().exec(
            "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload, "
            "metadata, timestamp) VALUES (gen_random_uuid(), 'Order', 1, 'Shape' || $1::text, $2, "
            "nullif($3, '')::jsonb, coalesce(nullif($4, '')::timestamptz, now()))",
            pg::Params(std::to_string(i), payload, metadata, timestamp));
    }
    auto daemon = DaemonProcess::start(config_path_);
    ASSERT_TRUE(
        wait_outbox_rows("orders", "delivered", static_cast<std::int64_t>(shapes.size()), 20s))
        << diagnose(daemon);

    std::vector<std::string> argv = {"/usr/bin/python3",
                                     source_dir() + "/tests/daemon/webhooks/check_envelope.py",
                                     source_dir() + "/docs/webhook-envelope.schema.json"};
    for (const auto& request : receiver.requests()) {
        const auto type = parse_delivery(request).type;
        if (type == "Shape0") {
            EXPECT_EQ(request.header("traceparent"), traceparent);
            EXPECT_EQ(request.header("tracestate"), "rojo=00f067aa0ba902b7");
        } else {
            EXPECT_EQ(request.header("traceparent"), std::nullopt) << type;
            EXPECT_EQ(request.header("tracestate"), std::nullopt) << type;
        }
        argv.push_back(write_file(type + ".json", request.body));
    }
    ASSERT_EQ(argv.size(), 3 + shapes.size());
    // The checker bites: a body without "schema" and with a non-integer version fails it.
    argv.push_back(write_file("broken.json",
                              R"({"type":"X","timestamp":"2024-01-01T00:00:00.000000Z",)"
                              R"("data":{"id":1,"aggregate_id":"x","aggregate_type":"O",)"
                              R"("version":"1","payload":{},"metadata":null}})"));
    auto check = DaemonProcess::spawn_program(argv);
    auto exit = check.wait_exit(30s);
    ASSERT_TRUE(exit) << check.output_tail();
    EXPECT_EQ(exit->code, 1) << check.output();
    const std::string out = check.output();
    EXPECT_NE(out.find("broken.json: (body): 'schema' is a required property"), std::string::npos)
        << out;
    EXPECT_NE(out.find("broken.json: data/version: '1' is not of type 'integer'"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("broken.json: data/aggregate_id"), std::string::npos) << out;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        EXPECT_EQ(out.find("Shape" + std::to_string(i) + ".json"), std::string::npos)
            << "a delivered body does not match the schema:\n"
            << out;
    }
}

// Stamps each request's arrival (wall clock) as soon as the receiver records it.
class ArrivalClock {
  public:
    explicit ArrivalClock(const HttpReceiver& receiver)
        : receiver_(receiver), thread_([this] { watch(); }) {}
    ArrivalClock(const ArrivalClock&) = delete;
    ArrivalClock& operator=(const ArrivalClock&) = delete;
    ~ArrivalClock() {
        stop_ = true;
        thread_.join();
    }

    // Aggregate id (from the body) -> first arrival.
    std::map<std::string, std::chrono::system_clock::time_point> arrivals() const {
        std::lock_guard lock(mutex_);
        return arrivals_;
    }

  private:
    void watch() {
        std::size_t seen = 0;
        while (!stop_) {
            if (!receiver_.wait_for_requests(seen + 1, 20ms))
                continue;
            auto now = std::chrono::system_clock::now();
            auto all = receiver_.requests();
            std::lock_guard lock(mutex_);
            for (; seen < all.size(); ++seen)
                arrivals_.try_emplace(parse_delivery(all[seen]).aggregate_id, now);
        }
    }

    const HttpReceiver& receiver_;
    mutable std::mutex mutex_;
    std::map<std::string, std::chrono::system_clock::time_point> arrivals_;
    std::atomic<bool> stop_{false};
    std::thread thread_;  // last: started once everything above exists
};

TEST_F(WebhookDelivery, ABlackHoledEndpointDelaysNeitherAnotherWebhookNorTheProjections) {
    HttpReceiver healthy({.secrets = {secret_a}});
    HttpReceiver black_hole({.secrets = {secret_a}});
    black_hole.set_default(Reaction::hang());  // accepts, reads, never answers
    write_config({webhook_yaml("healthy", healthy.url()),
                  webhook_yaml("stuck", black_hole.url(), "    timeout: 1s\n")},
                 "projections:\n"
                 "  - name: placed\n"
                 "    setup: CREATE TABLE IF NOT EXISTS placed (event_id bigint PRIMARY KEY)\n"
                 "    handlers:\n"
                 "      OrderPlaced: INSERT INTO placed VALUES (:id)\n");
    auto daemon = DaemonProcess::start(config_path_);
    ArrivalClock clock(healthy);
    (void)daemon.http_port();  // started

    // 200 events over ~4 s, one per transaction, each its own aggregate; the commit time is
    // when append returned.
    constexpr int events = 200;
    std::map<std::string, std::chrono::system_clock::time_point> committed;
    for (int i = 0; i < events; ++i) {
        auto id = append_aggregate(1);
        committed[id] = std::chrono::system_clock::now();
        std::this_thread::sleep_for(20ms);  // load shape, not synchronisation
    }
    ASSERT_TRUE(wait_until([&] { return clock.arrivals().size() == events; }, 10s))
        << "healthy endpoint got " << clock.arrivals().size() << " of " << events << "\n"
        << diagnose(daemon);
    ASSERT_TRUE(wait_until([&] { return scalar("SELECT count(*) FROM placed") == events; }, 5s))
        << "the projection fell behind: " << scalar("SELECT count(*) FROM placed") << "\n"
        << diagnose(daemon);

    std::vector<double> latency_ms;
    for (const auto& [aggregate, arrived] : clock.arrivals())
        latency_ms.push_back(
            std::chrono::duration<double, std::milli>(arrived - committed.at(aggregate)).count());
    std::sort(latency_ms.begin(), latency_ms.end());
    double p99 = latency_ms[latency_ms.size() * 99 / 100];
    EXPECT_LT(p99, 1000.0) << "p99 commit-to-delivery " << p99 << " ms, max " << latency_ms.back();

    // Meanwhile the black hole swallowed requests and sluice gave up on them by its deadline.
    ASSERT_TRUE(wait_until(
        [&] {
            return scalar(
                       "SELECT count(*) FROM sluice.outbox_attempts a JOIN sluice.outbox o "
                       "ON o.id = a.outbox_id WHERE o.webhook = 'stuck'") >= 2;
        },
        10s))
        << "the black-holed webhook should time out repeatedly\n"
        << diagnose(daemon);
    EXPECT_GE(black_hole.count(), 2u);
    EXPECT_EQ(outbox_rows("stuck", "delivered"), 0);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox_attempts a JOIN sluice.outbox o "
                     "ON o.id = a.outbox_id WHERE o.webhook = 'stuck' AND a.status IS NOT NULL"),
              0)
        << "no attempt to the black hole can have a status";
    ASSERT_TRUE(wait_until(
        [&] {
            auto timeouts =
                metric(daemon, "sluice_outbox_attempts_total", "stuck", ",outcome=\"timeout\"");
            return timeouts && *timeouts >= 2;
        },
        5s))
        << daemon.http_get("/metrics").body;
}

}  // namespace
}  // namespace sluice::testing
