// /readyz as a load balancer or an orchestrator sees it: 200 while sluice works, 503 with a JSON
// reason while PostgreSQL is down or a projection has stopped on a poison event, and 200 again
// once the database is back (sluice reconnects on its own and applies what was written).
// The database-down test stops and restarts its OWN throwaway cluster (scripts/pg), so other
// tests running in parallel keep theirs.
#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>
#include <fstream>

#include "daemon_fixture.hpp"
#include "daemon_process.hpp"
#include "own_cluster.hpp"

namespace sluice::testing {
namespace {

namespace json = boost::json;

const std::string projection = R"(projections:
  - name: ticks
    setup: CREATE TABLE IF NOT EXISTS ticks (event_id bigint PRIMARY KEY, n int NOT NULL)
    handlers:
      Tick: INSERT INTO ticks VALUES (:id, (:payload->>'n')::int)
    on_error: {retries: 1, backoff: 10ms, then: stop}
)";

struct Readyz {
    int status = 0;
    bool ready = false;
    std::string reason;
};

Readyz readyz(DaemonProcess& daemon) {
    auto r = daemon.http_get("/readyz");
    auto o = json::parse(r.body).as_object();
    return {static_cast<int>(r.status), o.at("ready").as_bool(),
            json::value_to<std::string>(o.at("reason"))};
}

class Readiness : public DaemonTest {};

TEST_F(Readiness, GoesUnreadyWhilePostgresIsDownAndRecoversOnItsOwn) {
    OwnCluster cluster;
    // The fixture's helpers and config read this test's cluster from here on.
    use_database(cluster.url());

    auto daemon = DaemonProcess::start(write_file("sluice.yaml", base_config() + projection));
    ASSERT_TRUE(wait_running(daemon, {"ticks"}));
    append_ticks(10);
    ASSERT_TRUE(wait_checkpoint("ticks", head(), 20s)) << diagnose(daemon);
    Readyz r;
    ASSERT_TRUE(wait_until(
        [&] {
            r = readyz(daemon);
            return r.status == 200;
        },
        10s))
        << r.reason;
    EXPECT_TRUE(r.ready);
    EXPECT_EQ(r.reason, "ok");

    drop_connection();
    cluster.stop_server();
    EXPECT_TRUE(wait_until(
        [&] {
            r = readyz(daemon);
            return r.status == 503;
        },
        20s))
        << "/readyz still " << r.status << " 20 s after PostgreSQL stopped\n"
        << daemon.output_tail();
    EXPECT_FALSE(r.ready);
    EXPECT_FALSE(r.reason.empty());
    EXPECT_TRUE(daemon.http_get("/healthz").status == 200)
        << "liveness must not follow the database";

    cluster.start_server();
    EXPECT_TRUE(wait_until(
        [&] {
            r = readyz(daemon);
            return r.status == 200;
        },
        60s))
        << "/readyz still " << r.status << " (" << r.reason << ") 60 s after PostgreSQL came back\n"
        << daemon.output_tail();
    append_ticks(10);
    EXPECT_TRUE(wait_checkpoint("ticks", head(), 30s))
        << "events written after the restart were not applied\n"
        << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM ticks"), 20);

    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(30s);
    EXPECT_TRUE(exit && exit->is_exit(0)) << daemon.output_tail();
    drop_connection();  // before the cluster goes away
}

TEST_F(Readiness, GoesUnreadyWhenAProjectionStopsOnAPoisonEvent) {
    db_->migrate();
    auto daemon = DaemonProcess::start(write_file("sluice.yaml", base_config() + projection));
    ASSERT_TRUE(wait_running(daemon, {"ticks"}));
    append_ticks(5);
    ASSERT_TRUE(wait_checkpoint("ticks", head(), 20s)) << diagnose(daemon);
    ASSERT_TRUE(wait_until([&] { return readyz(daemon).status == 200; }, 10s));

    conn().exec(
        "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
        "VALUES (gen_random_uuid(), 'Test', 1, 'Tick', '{\"n\": \"not a number\"}')");
    // First `retrying` (one retry), then `stopped`; both are 503.
    Readyz r;
    EXPECT_TRUE(wait_until(
        [&] {
            r = readyz(daemon);
            return r.status != 200 && r.reason == "projection ticks stopped";
        },
        20s))
        << "/readyz: " << r.status << " " << r.reason << "\n"
        << diagnose(daemon);
    EXPECT_EQ(r.status, 503);
    EXPECT_FALSE(r.ready);
    EXPECT_EQ(status(daemon).subscriber("ticks")->state, "stopped");

    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(30s);
    ASSERT_TRUE(exit) << diagnose(daemon);
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe() << "\n" << daemon.output_tail();
}

}  // namespace
}  // namespace sluice::testing
