// The sd_notify protocol as systemd sees it from the real daemon: READY=1 once started,
// WATCHDOG=1 at half the watchdog timeout, RELOADING=1 + MONOTONIC_USEC then READY=1 around a
// SIGHUP reload, STOPPING=1 on SIGTERM and a clean exit.
// WATCHDOG_PID: sd_watchdog_enabled(3) honours WATCHDOG_USEC when WATCHDOG_PID is unset or names
// the calling process, and ignores it when WATCHDOG_PID names another process. The child's pid
// is only known after spawning, so the exact-pid case runs sluice through `sh -c 'exec ...'`,
// which keeps the shell's pid ($$) for sluice.
#include <unistd.h>

#include <csignal>

#include "daemon_fixture.hpp"
#include "daemon_process.hpp"
#include "notify_socket.hpp"

namespace sluice::testing {
namespace {

const std::string projection = R"(
projections:
  - name: ticks
    setup: CREATE TABLE IF NOT EXISTS ticks (event_id bigint PRIMARY KEY)
    handlers:
      Tick: INSERT INTO ticks VALUES (:id)
)";

constexpr auto watchdog_usec = "400000";  // pings expected every 200 ms

class NotifyProtocol : public DaemonTest {
  protected:
    void SetUp() override {
        DaemonTest::SetUp();
        db_->migrate();
        config_ = write_file("sluice.yaml", base_config() + projection);
    }

    // WATCHDOG=1 datagrams arriving from now on, counted until there are `enough` or 1.5 s
    // have passed.
    static std::size_t pings_in_window(NotifySocket& socket, std::size_t enough = 3) {
        auto deadline = std::chrono::steady_clock::now() + 1500ms;
        std::size_t from = socket.messages().size();
        std::size_t next = from;
        while (socket.count("WATCHDOG=1", from) < enough) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                break;
            auto at = socket.wait_for("WATCHDOG=1", left, next);
            if (!at)
                break;
            next = *at + 1;
        }
        return socket.count("WATCHDOG=1", from);
    }

    std::string config_;
};

TEST_F(NotifyProtocol, AnnouncesReadyWatchdogReloadAndStop) {
    NotifySocket socket(dir_);
    // WATCHDOG_PID unset: the watchdog settings apply to whichever process reads them.
    auto daemon = DaemonProcess::start(
        config_, {{"NOTIFY_SOCKET", socket.path()}, {"WATCHDOG_USEC", watchdog_usec}});

    auto ready = socket.wait_for("READY=1", 20s);
    ASSERT_TRUE(ready) << "no READY=1\n" << socket.transcript() << daemon.output_tail();
    EXPECT_NE(socket.messages()[*ready].find("STATUS="), std::string::npos)
        << "READY=1 without a STATUS= line: " << socket.messages()[*ready];
    ASSERT_TRUE(wait_running(daemon, {"ticks"}));

    auto pings = pings_in_window(socket);
    EXPECT_GE(pings, 3U) << "WATCHDOG_USEC=400000 asks for a ping every 200 ms\n"
                         << socket.transcript();

    std::size_t before_reload = socket.messages().size();
    daemon.kill(SIGHUP);
    auto reloading = socket.wait_for("RELOADING=1", 10s, before_reload);
    ASSERT_TRUE(reloading) << "no RELOADING=1 after SIGHUP\n" << socket.transcript();
    EXPECT_NE(socket.messages()[*reloading].find("MONOTONIC_USEC="), std::string::npos)
        << "Type=notify-reload needs MONOTONIC_USEC with RELOADING=1\n"
        << socket.transcript();
    auto ready_again = socket.wait_for("READY=1", 10s, *reloading + 1);
    EXPECT_TRUE(ready_again) << "no READY=1 after RELOADING=1\n" << socket.transcript();
    EXPECT_TRUE(daemon.wait_for_log("msg=\"configuration reloaded\"", 5s)) << daemon.output_tail();

    // Still pinging after the reload.
    EXPECT_GE(pings_in_window(socket), 3U) << socket.transcript();

    std::size_t before_stop = socket.messages().size();
    daemon.kill(SIGTERM);
    EXPECT_TRUE(socket.wait_for("STOPPING=1", 10s, before_stop)) << "no STOPPING=1 after SIGTERM\n"
                                                                 << socket.transcript();
    auto exit = daemon.wait_exit(30s);
    ASSERT_TRUE(exit) << "sluice did not stop within 30 s of SIGTERM\n" << daemon.output_tail();
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe() << "\n" << daemon.output_tail();
}

TEST_F(NotifyProtocol, PingsTheWatchdogWhenWatchdogPidNamesItsOwnProcess) {
    NotifySocket socket(dir_);
    // `exec` keeps the shell's pid, so $$ is sluice's pid, set before sluice reads it.
    auto daemon = DaemonProcess::spawn_program(
        {"/bin/sh", "-c", "WATCHDOG_PID=$$; export WATCHDOG_PID; exec \"$0\" run --config \"$1\"",
         sluice_binary(), config_},
        {{"NOTIFY_SOCKET", socket.path()}, {"WATCHDOG_USEC", watchdog_usec}});
    ASSERT_TRUE(socket.wait_for("READY=1", 20s)) << "no READY=1\n"
                                                 << socket.transcript() << daemon.output_tail();
    EXPECT_GE(pings_in_window(socket), 3U) << socket.transcript() << daemon.output_tail();
    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(30s);
    ASSERT_TRUE(exit) << daemon.output_tail();
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe() << "\n" << daemon.output_tail();
}

TEST_F(NotifyProtocol, IgnoresTheWatchdogWhenWatchdogPidNamesAnotherProcess) {
    NotifySocket socket(dir_);
    auto daemon = DaemonProcess::start(config_, {{"NOTIFY_SOCKET", socket.path()},
                                                 {"WATCHDOG_USEC", watchdog_usec},
                                                 {"WATCHDOG_PID", std::to_string(getpid())}});
    ASSERT_TRUE(socket.wait_for("READY=1", 20s)) << "no READY=1\n"
                                                 << socket.transcript() << daemon.output_tail();
    // Absence can only be shown over a window: 1.5 s, in which seven pings would be due.
    EXPECT_EQ(pings_in_window(socket, 1000), 0U)
        << "the watchdog settings were meant for another process\n"
        << socket.transcript();
    daemon.kill(SIGTERM);
    auto exit = daemon.wait_exit(30s);
    ASSERT_TRUE(exit) << daemon.output_tail();
    EXPECT_TRUE(exit->is_exit(0)) << exit->describe();
}

}  // namespace
}  // namespace sluice::testing
