// sluice behind a real PgBouncer. In transaction mode a client's statements reach whichever
// server session is free, so nothing may outlive a transaction. With database.pooling:
// transaction sluice owns work by leases (fenced in every batch), runs no prepared statements and
// is woken by a NOTIFY on database.listen_url or else by a short poll: every event is applied
// exactly once, also when the owner is killed (the other instance takes over once the lease runs
// out) and when PgBouncer restarts mid-stream. Without that setting the coordinator notices the
// pool (its server session changes between statements) and owns nothing through it. In session
// mode the pool is transparent: the work is owned and done as without it.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "counting_fixture.hpp"
#include "http_receiver.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

unsigned short free_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(
        io, {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(0)});
    return a.local_endpoint().port();
}

// "postgresql://postgres@127.0.0.1:5432/db" -> 5432
std::string port_of(const std::string& url) {
    auto colon = url.rfind(':');
    return url.substr(colon + 1, url.find('/', colon) - colon - 1);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A PgBouncer of the test's own, in front of the test cluster; runs as `postgres` when the
// tests run as root (it refuses to run as root). restart() kills it (SIGKILL: every client and
// server connection goes at once) and starts it again on the same port.
class PgBouncer {
  public:
    PgBouncer(const std::string& server_url, const std::string& pool_mode)
        : dir_(make_dir()), port_(free_port()) {
        std::ofstream(dir_ + "/users.txt") << "\"postgres\" \"\"\n";
        std::ofstream(dir_ + "/pgbouncer.ini")
            << "[databases]\n* = host=127.0.0.1 port=" << port_of(server_url) << "\n"
            << "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " << port_ << "\n"
            << "auth_type = trust\nauth_file = " << dir_ << "/users.txt\n"
            << "pool_mode = " << pool_mode
            << "\n"
            // Consecutive transactions of one client go to different server sessions.
            << "server_round_robin = 1\nmin_pool_size = 3\n"
            << "unix_socket_dir =\nlogfile = " << dir_ << "/pgbouncer.log\n"
            << "ignore_startup_parameters = extra_float_digits,options\n";
        start();
    }
    PgBouncer(const PgBouncer&) = delete;
    PgBouncer& operator=(const PgBouncer&) = delete;
    ~PgBouncer() {
        process_.reset();  // SIGKILL and reap
        std::filesystem::remove_all(dir_);
    }

    [[nodiscard]] std::string url(const std::string& db) const {
        return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
    }

    void restart() {
        process_.reset();
        start();
    }

  private:
    static std::string make_dir() {
        std::string tmpl = ::testing::TempDir() + "/pgbouncer-XXXXXX";
        if (mkdtemp(tmpl.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        std::filesystem::permissions(tmpl, std::filesystem::perms::all);  // for `postgres`
        return tmpl;
    }

    void start() {
        std::vector<std::string> argv;
        if (geteuid() == 0)
            argv = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"};
        argv.insert(argv.end(), {"/usr/sbin/pgbouncer", dir_ + "/pgbouncer.ini"});
        process_.emplace(DaemonProcess::spawn_program(argv));
        bool up = wait_until(
            [&] {
                try {
                    (void)pg::Connection::open(url("postgres"), 2);
                    return true;
                } catch (const std::exception&) {
                    return false;
                }
            },
            15s);
        if (!up)
            throw std::runtime_error("pgbouncer did not accept connections:\n" +
                                     process_->output_tail());
    }

    std::string dir_;
    unsigned short port_;
    std::optional<DaemonProcess> process_;
};

class BehindPgBouncer : public CountingProjectionTest {
  protected:
    // The counting config through `bouncer_url`, with `database_keys` (indented lines) added to
    // its database section and `failover_after` as the lease time.
    std::string pooled_config(const std::string& bouncer_url, const std::string& database_keys,
                              const std::string& failover_after = "10s",
                              const std::string& poll_interval = "200ms",
                              const std::string& more = "") {
        std::string text = base_config({.url = bouncer_url,
                                        .poll_interval = poll_interval,
                                        .batch_size = 50,
                                        .failover_after = failover_after});
        const std::string anchor = "  statement_timeout: 20s\n";
        auto at = text.find(anchor);
        EXPECT_NE(at, std::string::npos) << text;
        text.insert(at + anchor.size(), database_keys);
        return write_file("pooled.yaml",
                          text +
                              "projections:\n"
                              "  - name: p\n"
                              "    setup: CREATE TABLE IF NOT EXISTS applied (event_id bigint "
                              "PRIMARY KEY, times int NOT NULL)\n"
                              "    handlers:\n"
                              "      Tick: INSERT INTO applied VALUES (:id, 1) ON CONFLICT "
                              "(event_id) DO UPDATE SET times = applied.times + 1\n" +
                              more);
    }

    [[nodiscard]] bool wait_applied(std::int64_t count, DaemonProcess& daemon,
                                    std::chrono::milliseconds timeout = 30s) {
        bool ok = wait_until([&] { return applied("count(*)") >= count; }, timeout);
        EXPECT_TRUE(ok) << "applied " << applied("count(*)") << " of " << count << "\n"
                        << diagnose(daemon);
        return ok;
    }

    // The pid recorded in p's owners row, 0 when it has no owner.
    std::int64_t owner_pid() {
        return scalar("SELECT coalesce((SELECT pid FROM sluice.owners WHERE name = 'p'), 0)");
    }
    std::int64_t owner_token() {
        return scalar("SELECT coalesce((SELECT token FROM sluice.owners WHERE name = 'p'), 0)");
    }
};

const std::string transaction_pooling = "  pooling: transaction\n  pooled_poll_interval: 100ms\n";

TEST_F(BehindPgBouncer, TransactionPoolingAppliesEveryEventExactlyOnce) {
    PgBouncer bouncer(db_->url(), "transaction");
    append_ticks(200);
    auto daemon =
        DaemonProcess::start(pooled_config(bouncer.url(db_->name()), transaction_pooling));
    ASSERT_TRUE(wait_applied(200, daemon));
    append_ticks(100);
    ASSERT_TRUE(wait_applied(300, daemon));
    ASSERT_TRUE(wait_checkpoint("p", head(), 10s)) << diagnose(daemon);
    EXPECT_EQ(applied("count(*)"), 300);
    EXPECT_EQ(applied("max(times)"), 1) << "an event was applied twice";
    // Owned by a lease (no backend pid: no session lock), by this process.
    EXPECT_EQ(owner_pid(), daemon.pid());
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.owners WHERE backend_pid IS NULL"), 1);
    EXPECT_TRUE(daemon.wait_for_log("ownership=leases", 1s)) << daemon.output_tail();
    EXPECT_TRUE(daemon.wait_for_log("no session-level connection to LISTEN on", 1s))
        << daemon.output_tail();
    EXPECT_EQ(daemon.count_in_log("level=error"), 0U) << daemon.output_tail();
    EXPECT_EQ(daemon.count_in_log("reconnecting"), 0U) << daemon.output_tail();
    expect_clean_stop(daemon);
}

TEST_F(BehindPgBouncer, AKilledOwnersUnitIsTakenOverWhenItsLeaseRunsOutAndNothingTwice) {
    PgBouncer bouncer(db_->url(), "transaction");
    constexpr auto lease = 3s;   // failover_after
    constexpr auto margin = 3s;  // ticks and scheduling on a busy machine
    const auto config = pooled_config(bouncer.url(db_->name()), transaction_pooling, "3s");
    append_ticks(200);
    auto first = DaemonProcess::start(config);
    auto second = DaemonProcess::start(config);
    ASSERT_TRUE(wait_applied(200, first));
    ASSERT_TRUE(wait_until([&] { return owner_pid() != 0; }, 10s)) << diagnose(first);
    const auto old_pid = owner_pid();
    const auto old_token = owner_token();
    DaemonProcess& owner = old_pid == first.pid() ? first : second;
    DaemonProcess& heir = old_pid == first.pid() ? second : first;
    ASSERT_EQ(owner.pid(), old_pid) << "p is owned by neither instance\n" << diagnose(first);

    append_ticks(300);  // the owner dies with these in flight
    owner.kill(SIGKILL);
    const auto killed_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(owner.wait_exit(5s)) << "the owner did not die";
    ASSERT_TRUE(wait_until([&] { return owner_pid() == heir.pid(); }, lease + margin))
        << "the other instance did not take p within " << (lease + margin).count() << " s\n"
        << diagnose(heir);
    const double took = seconds_since(killed_at);
    std::cerr << "[ pgbouncer ] p taken over " << took << " s after kill -9 (lease 3 s)\n";
    EXPECT_GT(owner_token(), old_token) << "a takeover draws a new fencing token";
    append_ticks(100);
    ASSERT_TRUE(wait_applied(600, heir));
    ASSERT_TRUE(wait_checkpoint("p", head(), 10s)) << diagnose(heir);
    EXPECT_EQ(applied("count(*)"), 600) << "an event was skipped";
    EXPECT_EQ(applied("max(times)"), 1) << "an event was applied twice";
    expect_clean_stop(heir);
}

TEST_F(BehindPgBouncer, WorkResumesExactlyOnceAfterPgBouncerRestartsMidStream) {
    PgBouncer bouncer(db_->url(), "transaction");
    append_ticks(100);
    auto daemon =
        DaemonProcess::start(pooled_config(bouncer.url(db_->name()), transaction_pooling));
    ASSERT_TRUE(wait_applied(100, daemon));
    for (int round = 1; round <= 3; ++round) {
        append_ticks(500);  // batches of 50: the restart lands while they are being applied
        bouncer.restart();
        append_ticks(100);
        ASSERT_TRUE(wait_applied(100 + 600 * round, daemon, 60s)) << "round " << round;
    }
    ASSERT_TRUE(wait_checkpoint("p", head(), 10s)) << diagnose(daemon);
    EXPECT_EQ(applied("count(*)"), 1900) << "an event was skipped";
    EXPECT_EQ(applied("max(times)"), 1) << "an event was applied twice";
    // The restarts did reach the daemon: its connections were cut and made again.
    EXPECT_GT(daemon.count_in_log("reconnecting"), 0U) << daemon.output_tail();
    EXPECT_EQ(owner_pid(), daemon.pid());
    expect_clean_stop(daemon);
}

// The wake-ups: tailer.poll_interval 30 s, so only a NOTIFY or the pooled poll can apply an
// event within the bound.
TEST_F(BehindPgBouncer, WithAListenUrlAnEventIsAppliedAtOnceByItsNotify) {
    PgBouncer bouncer(db_->url(), "transaction");
    append_ticks(1);
    auto daemon = DaemonProcess::start(
        pooled_config(bouncer.url(db_->name()),
                      "  pooling: transaction\n  pooled_poll_interval: 30s\n  listen_url: \"" +
                          db_->url() + "\"\n",
                      "10s", "30s"));
    ASSERT_TRUE(wait_applied(1, daemon));
    for (int i = 2; i <= 4; ++i) {
        append_ticks(1);
        const auto appended = std::chrono::steady_clock::now();
        ASSERT_TRUE(wait_applied(i, daemon, 5s)) << "not woken by the NOTIFY";
        std::cerr << "[ pgbouncer ] event " << i << " applied " << seconds_since(appended)
                  << " s after its commit (listen_url)\n";
    }
    auto s = status(daemon);
    EXPECT_GE(s.notify_wakeups, 3U) << diagnose(daemon);
    EXPECT_EQ(s.poll_wakeups, 0U) << "a 30 s poll cannot have run";
    EXPECT_EQ(applied("max(times)"), 1);
    expect_clean_stop(daemon);
}

TEST_F(BehindPgBouncer, WithoutAListenUrlTheShortPollAppliesAnEvent) {
    PgBouncer bouncer(db_->url(), "transaction");
    append_ticks(1);
    auto daemon = DaemonProcess::start(
        pooled_config(bouncer.url(db_->name()),
                      "  pooling: transaction\n  pooled_poll_interval: 300ms\n", "10s", "30s"));
    ASSERT_TRUE(wait_applied(1, daemon));
    for (int i = 2; i <= 4; ++i) {
        append_ticks(1);
        const auto appended = std::chrono::steady_clock::now();
        ASSERT_TRUE(wait_applied(i, daemon, 5s)) << "the 300 ms poll did not apply it";
        std::cerr << "[ pgbouncer ] event " << i << " applied " << seconds_since(appended)
                  << " s after its commit (poll 300 ms)\n";
    }
    auto s = status(daemon);
    EXPECT_EQ(s.notify_wakeups, 0U) << "nothing LISTENs through a transaction pool";
    EXPECT_GT(s.poll_wakeups, 0U) << diagnose(daemon);
    EXPECT_EQ(applied("max(times)"), 1);
    expect_clean_stop(daemon);
}

TEST_F(BehindPgBouncer, SnapshotsAreTakenThroughThePool) {
    // Round robin: the statement that takes snapshots runs on another server session than the
    // one that prepared the subscriber, so nothing it calls may live in one session only.
    PgBouncer bouncer(db_->url(), "transaction");
    append_ticks(60);
    auto daemon = DaemonProcess::start(
        pooled_config(bouncer.url(db_->name()), transaction_pooling, "10s", "200ms",
                      "snapshots:\n"
                      "  - aggregate_type: Test\n"
                      "    initial: \"'{}'::jsonb\"\n"
                      "    apply:\n"
                      "      Tick: \":state || jsonb_build_object('n', :payload->'n')\"\n"
                      "    every: 1\n"));
    auto snapshots = [&] { return scalar("SELECT count(*) FROM sluice.snapshots"); };
    ASSERT_TRUE(wait_until([&] { return snapshots() == 60; }, 30s))
        << snapshots() << " snapshots of 60\n"
        << diagnose(daemon);
    append_ticks(40);
    ASSERT_TRUE(wait_until([&] { return snapshots() == 100; }, 30s))
        << snapshots() << " snapshots of 100\n"
        << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.snapshots WHERE state->'n' IS NULL"), 0);
    EXPECT_EQ(daemon.count_in_log("level=error"), 0U) << daemon.output_tail();
    EXPECT_EQ(daemon.count_in_log("level=warn"), 0U) << daemon.output_tail();
    expect_clean_stop(daemon);
}

TEST_F(BehindPgBouncer, WebhooksAreEnqueuedAndDeliveredOnceThroughThePool) {
    PgBouncer bouncer(db_->url(), "transaction");
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    HttpReceiver receiver({.secrets = {secret}});
    append_ticks(40);
    auto daemon = DaemonProcess::start(
        pooled_config(bouncer.url(db_->name()), transaction_pooling, "10s", "200ms",
                      "webhooks:\n  - name: ticks\n    url: \"" + receiver.url() +
                          "\"\n    secrets: [\"" + secret + "\"]\n    event_types: [Tick]\n"));
    ASSERT_TRUE(receiver.wait_for_requests(40, 30s))
        << "delivered " << receiver.count() << " of 40\n"
        << diagnose(daemon);
    append_ticks(20);  // found by the workers' poll: nothing LISTENs through the pool
    ASSERT_TRUE(receiver.wait_for_requests(60, 30s))
        << "delivered " << receiver.count() << " of 60\n"
        << diagnose(daemon);
    std::set<std::string> ids;
    for (const auto& r : receiver.requests())
        ids.insert(r.webhook_id);
    EXPECT_EQ(ids.size(), 60U) << "every event delivered, each once";
    EXPECT_TRUE(wait_until(
        [&] {
            return scalar("SELECT count(*) FROM sluice.outbox WHERE state = 'delivered'") == 60;
        },
        10s));
    EXPECT_EQ(daemon.count_in_log("level=error"), 0U) << daemon.output_tail();
    expect_clean_stop(daemon);
}

TEST_F(BehindPgBouncer, WithoutThePoolingSettingATransactionPoolIsDetectedAndRefused) {
    PgBouncer bouncer(db_->url(), "transaction");
    append_ticks(200);
    auto daemon = DaemonProcess::start(write_config(bouncer.url(db_->name())));
    ASSERT_TRUE(daemon.wait_for_log("sluice needs a session-level connection", 20s))
        << daemon.output_tail();
    EXPECT_NE(daemon.output().find("or set database.pooling: transaction"), std::string::npos)
        << daemon.output_tail();
    EXPECT_LE(applied("max(times)"), 1) << "an event was applied twice";
    expect_clean_stop(daemon);
}

TEST_F(BehindPgBouncer, SessionPoolingWorksLikeADirectConnection) {
    PgBouncer bouncer(db_->url(), "session");
    append_ticks(200);
    auto daemon = DaemonProcess::start(write_config(bouncer.url(db_->name())));
    ASSERT_TRUE(wait_until([&] { return applied("count(*)") == 200; }, 30s))
        << "applied " << applied("count(*)") << "\n"
        << daemon.output_tail();
    append_ticks(100);
    ASSERT_TRUE(wait_until([&] { return applied("count(*)") == 300; }, 30s))
        << "applied " << applied("count(*)") << "\n"
        << daemon.output_tail();
    EXPECT_EQ(applied("max(times)"), 1) << "an event was applied twice";
    EXPECT_EQ(daemon.count_in_log("session-level connection"), 0U) << daemon.output_tail();
    expect_clean_stop(daemon);
}

}  // namespace
}  // namespace sluice::testing
