// sluice behind a real PgBouncer. In transaction mode a client's statements reach whichever
// server session is free, so session advisory locks mean nothing: the coordinator must notice
// (its server session changes between statements), say that sluice needs a session-level
// connection, and own nothing through it. In session mode the pool is transparent: the work is
// owned and done as without it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <fstream>

#include "counting_fixture.hpp"

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

// A PgBouncer of the test's own, in front of the test cluster; runs as `postgres` when the
// tests run as root (it refuses to run as root).
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
    PgBouncer(const PgBouncer&) = delete;
    PgBouncer& operator=(const PgBouncer&) = delete;
    ~PgBouncer() {
        process_.reset();  // SIGKILL and reap
        std::filesystem::remove_all(dir_);
    }

    [[nodiscard]] std::string url(const std::string& db) const {
        return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
    }

  private:
    static std::string make_dir() {
        std::string tmpl = ::testing::TempDir() + "/pgbouncer-XXXXXX";
        if (mkdtemp(tmpl.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        std::filesystem::permissions(tmpl, std::filesystem::perms::all);  // for `postgres`
        return tmpl;
    }

    std::string dir_;
    unsigned short port_;
    std::optional<DaemonProcess> process_;
};

using BehindPgBouncer = CountingProjectionTest;

TEST_F(BehindPgBouncer, TransactionPoolingIsDetectedAndNothingIsAppliedTwice) {
    PgBouncer bouncer(db_->url(), "transaction");
    append_ticks(200);
    auto daemon = DaemonProcess::start(write_config(bouncer.url(db_->name())));
    ASSERT_TRUE(daemon.wait_for_log("sluice needs a session-level connection", 20s))
        << daemon.output_tail();
    EXPECT_NE(daemon.output().find("point database.url at PostgreSQL or a session-mode pool"),
              std::string::npos)
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
