// PostgreSQL restarted (pg_ctl restart -m fast, every session terminated) three times while one
// `sluice run` catches up on 200,000 events and delivers webhooks to a slowish receiver, with a
// writer appending throughout. The process is never restarted: it reconnects on its own, takes
// its units again, listens again and resumes from the stored checkpoints, and nothing is lost or
// applied twice. The test runs its own cluster, so the restarts hurt no other test.
#include <boost/json.hpp>
#include <csignal>
#include <iostream>

#include "fault_fixture.hpp"
#include "order_writer.hpp"
#include "own_cluster.hpp"

namespace sluice::testing::fault {
namespace {

namespace json = boost::json;

constexpr std::int64_t bulk_orders = 20000;  // x 10 versions = 200,000 events, 2,000 shipped
constexpr int restarts = 3;

const std::vector<std::string> units = {"applied", "per_order", "shipped"};

std::uint64_t notify_wakeups(DaemonProcess& daemon) {
    auto root = json::parse(daemon.http_get("/status").body).as_object();
    return json::value_to<std::uint64_t>(root.at("tailer").as_object().at("notify_wakeups"));
}

class PostgresRestart : public FaultTest {};

TEST_F(PostgresRestart, SluiceRecoversOnItsOwnFromThreeRestartsDuringCatchUpAndDelivery) {
    OwnCluster cluster;
    use_database(cluster.url());
    create_read_models();
    load_orders(bulk_orders);
    const Position bulk_end = head();
    HttpReceiver receiver({.secrets = {webhook_secret}});
    // A slowish endpoint with two connections (about 200 deliveries a second, so the 2,000
    // bulk messages take about 10 s): delivery spans the restarts.
    receiver.set_default(Reaction{.delay = 10ms});
    std::string config = write_config("projections:\n" + projection_yaml("applied", true, false) +
                                      projection_yaml("per_order", false, true) + "webhooks:\n" +
                                      webhook_yaml("shipped", receiver.url(), 2));

    Instances instances(config, 1);
    DaemonProcess& daemon = instances.start(0);
    const int pid = daemon.pid();
    OrderWriter writer(url_);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(wait_until([&] { return slowest(units).id > 0; }, 30s))
        << "the catch-up never started\n"
        << diagnose(instances);

    int during_catch_up = 0;
    int during_delivery = 0;
    for (int round = 1; round <= restarts; ++round) {
        // Spread the restarts over the catch-up: restart r once the slowest unit has passed
        // r/4 of the bulk load (or it has finished).
        std::int64_t mark = bulk_end.id * round / (restarts + 1);
        ASSERT_TRUE(wait_until(
            [&] {
                auto s = slowest(units);
                return s >= bulk_end || s.id >= mark;
            },
            60s))
            << "no progress to event " << mark << " before restart " << round << "\n"
            << diagnose(instances);
        auto before = checkpoints();
        bool catching_up = slowest(units) < bulk_end;
        bool delivering = delivered("shipped") < shipped_events();
        during_catch_up += catching_up ? 1 : 0;
        during_delivery += delivering ? 1 : 0;

        drop_connection();
        auto restarted_at = std::chrono::steady_clock::now();
        cluster.restart();
        EXPECT_EQ(checkpoint_consistency_problem(), "") << "right after restart " << round;
        std::cerr << "[ fault ] PostgreSQL restart " << round << " at " << seconds_since(t0)
                  << (catching_up ? ", mid catch-up" : "")
                  << (delivering ? ", webhooks pending" : "") << " (took "
                  << seconds_since(restarted_at) << ")\n";
        ASSERT_TRUE(daemon.running()) << "sluice exited when PostgreSQL restarted\n"
                                      << diagnose(instances);

        // Recovered: every unit moves past where it was when the server went down (the writer
        // keeps appending, so there is always something to apply), in the same process.
        std::string stuck;
        bool recovered = wait_until(
            [&] {
                auto now = checkpoints();
                stuck.clear();
                for (const auto& u : units) {
                    auto was = before.count(u) ? before[u] : Position{};
                    if (!now.count(u) || now[u] <= was)
                        stuck += u + " ";
                }
                return stuck.empty();
            },
            30s);
        ASSERT_TRUE(recovered) << "30 s after restart " << round
                               << " these units have not moved: " << stuck << "\n"
                               << diagnose(instances);
        std::size_t requests = receiver.count();
        ASSERT_TRUE(receiver.wait_for_requests(requests + 1, 30s))
            << "no webhook delivered within 30 s after restart " << round << "\n"
            << diagnose(instances);
        std::cerr << "[ fault ] recovered from restart " << round << " in "
                  << seconds_since(restarted_at) << "\n";
        ASSERT_TRUE(daemon.running());
        ASSERT_EQ(daemon.pid(), pid);
    }
    EXPECT_GE(during_catch_up, 2) << "the restarts must hit the catch-up (raise bulk_orders)";
    EXPECT_EQ(during_delivery, restarts) << "every restart must hit webhook delivery";

    // Listening again: new events wake the tailer through NOTIFY, not only the poll timer.
    std::uint64_t wakeups = notify_wakeups(daemon);
    EXPECT_TRUE(wait_until([&] { return notify_wakeups(daemon) > wakeups; }, 15s))
        << "no NOTIFY wake-up after the last restart (LISTEN not renewed?)\n"
        << diagnose(instances);

    writer.stop();
    std::cerr << "[ fault ] writer appended " << writer.transactions() << " transactions ("
              << writer.failures() << " failed around the restarts)\n";
    ASSERT_TRUE(wait_all_at_head(units, 60s)) << "not at the head: " << behind_head(units) << "\n"
                                              << diagnose(instances);
    std::cerr << "[ fault ] every unit at the head at " << seconds_since(t0) << "\n";
    expect_read_model_exact("after " + std::to_string(restarts) + " PostgreSQL restarts");
    ASSERT_TRUE(wait_until([&] { return delivered("shipped") == shipped_events(); }, 75s))
        << delivered("shipped") << " of " << shipped_events() << " webhooks delivered\n"
        << diagnose(instances);
    std::cerr << "[ fault ] every webhook delivered at " << seconds_since(t0) << "\n";
    expect_webhooks_complete(receiver, "shipped");
    EXPECT_EQ(daemon.pid(), pid);

    for (const auto& u : units) {
        std::size_t took = 0;
        for (const auto& c : ownership_changes(daemon.output()))
            took += c.took && c.name == u ? 1 : 0;
        std::cerr << "[ fault ] " << u << " taken " << took << " times\n";
    }
    auto exit = daemon.terminate(10s);
    EXPECT_TRUE(exit.is_exit(0)) << exit.describe() << "\n" << daemon.output_tail();
    drop_connection();  // before the cluster goes away
}

TEST_F(PostgresRestart, TwoInstancesShareTheUnitsAgainAfterEachRestart) {
    OwnCluster cluster;
    use_database(cluster.url());
    create_read_models();
    load_orders(5000);  // 50,000 events
    HttpReceiver receiver({.secrets = {webhook_secret}});
    std::string config = write_config("projections:\n" + projection_yaml("applied", true, false) +
                                      projection_yaml("per_order", false, true) + "webhooks:\n" +
                                      webhook_yaml("shipped", receiver.url()));
    Instances instances(config, 2);
    instances.start_all();
    OrderWriter writer(url_);
    const auto t0 = std::chrono::steady_clock::now();

    // Every lock went with the restart: both instances reconnect, register and share the three
    // units again (at most two each), and each instance's /status agrees with sluice.owners.
    std::string problem;
    auto await_shared = [&](const std::string& when) {
        bool ok = wait_until(
            [&] {
                problem = ownership_problem(units, instances, 2);
                if (problem.empty())
                    problem = status_problem(instances);
                return problem.empty();
            },
            30s);
        EXPECT_TRUE(ok) << when << ": " << problem << "\n" << diagnose(instances);
        return ok;
    };
    ASSERT_TRUE(await_shared("at start"));
    for (int round = 1; round <= 2; ++round) {
        auto before = checkpoints();
        drop_connection();
        cluster.restart();
        ASSERT_EQ(instances.live_slots().size(), 2u)
            << "an instance exited when PostgreSQL restarted\n"
            << diagnose(instances);
        ASSERT_TRUE(await_shared("after restart " + std::to_string(round)));
        std::string stuck;
        ASSERT_TRUE(wait_until(
            [&] {
                auto now = checkpoints();
                stuck.clear();
                for (const auto& u : units) {
                    if (!now.count(u) || (before.count(u) && now[u] <= before[u]))
                        stuck += u + " ";
                }
                return stuck.empty();
            },
            30s))
            << "after restart " << round << " these units have not moved: " << stuck << "\n"
            << diagnose(instances);
        std::cerr << "[ fault ] two instances shared the units again " << seconds_since(t0)
                  << " in\n";
    }
    writer.stop();
    ASSERT_TRUE(wait_all_at_head(units, 60s)) << behind_head(units) << "\n" << diagnose(instances);
    expect_read_model_exact("two instances after two PostgreSQL restarts");
    ASSERT_TRUE(wait_until([&] { return delivered("shipped") == shipped_events(); }, 75s))
        << delivered("shipped") << " of " << shipped_events() << " webhooks delivered\n"
        << diagnose(instances);
    expect_webhooks_complete(receiver, "shipped");
    instances.terminate_all();
    drop_connection();  // before the cluster goes away
}

}  // namespace
}  // namespace sluice::testing::fault
