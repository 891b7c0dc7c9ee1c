// Pins the datagrams Notifier sends to NOTIFY_SOCKET, and that it is silent without one.
// Each test binds its own unix datagram socket in a fresh temporary directory.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "infra/notify/notify.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::notify::Notifier;
namespace asio = boost::asio;

// Owns a bound AF_UNIX/SOCK_DGRAM socket and the directory holding it; points NOTIFY_SOCKET at
// it for the lifetime of the object.
class NotifyReceiver {
  public:
    NotifyReceiver() {
        std::string templ = (std::filesystem::temp_directory_path() / "sluice-notify-XXXXXX");
        if (mkdtemp(templ.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        dir_ = templ;
        path_ = dir_ / "notify.sock";
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0)
            throw std::runtime_error("socket failed");
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path_.native().copy(addr.sun_path, sizeof(addr.sun_path) - 1);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
            throw std::runtime_error("bind failed");
        setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    }
    ~NotifyReceiver() {
        unsetenv("NOTIFY_SOCKET");
        close(fd_);
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    NotifyReceiver(const NotifyReceiver&) = delete;
    NotifyReceiver& operator=(const NotifyReceiver&) = delete;

    // The next datagram, or nullopt when none arrives within `deadline`.
    std::optional<std::string> receive(std::chrono::milliseconds deadline = 5s) const {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(deadline.count())) != 1)
            return std::nullopt;
        std::string buf(4096, '\0');
        const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
        if (n < 0)
            return std::nullopt;
        buf.resize(static_cast<size_t>(n));
        return buf;
    }

  private:
    std::filesystem::path dir_;
    std::filesystem::path path_;
    int fd_ = -1;
};

TEST(Notifier, SendsReadyWithStatus) {
    NotifyReceiver receiver;
    EXPECT_FALSE(Notifier{}.ready("projecting 3 projections"));
    EXPECT_EQ(receiver.receive(), "READY=1\nSTATUS=projecting 3 projections");
}

TEST(Notifier, SendsStatusWithNewlinesFlattened) {
    NotifyReceiver receiver;
    EXPECT_FALSE(Notifier{}.status("lag 0\nREADY=1"));
    EXPECT_EQ(receiver.receive(), "STATUS=lag 0 READY=1");
}

TEST(Notifier, SendsWatchdogPing) {
    NotifyReceiver receiver;
    EXPECT_FALSE(Notifier{}.watchdog());
    EXPECT_EQ(receiver.receive(), "WATCHDOG=1");
}

TEST(Notifier, SendsStopping) {
    NotifyReceiver receiver;
    EXPECT_FALSE(Notifier{}.stopping());
    EXPECT_EQ(receiver.receive(), "STOPPING=1");
}

TEST(Notifier, SendsReloadingWithCurrentMonotonicTime) {
    NotifyReceiver receiver;
    timespec before{};
    clock_gettime(CLOCK_MONOTONIC, &before);
    EXPECT_FALSE(Notifier{}.reloading());
    timespec after{};
    clock_gettime(CLOCK_MONOTONIC, &after);

    const auto message = receiver.receive();
    ASSERT_TRUE(message.has_value()) << "no datagram within 5s";
    const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
    ASSERT_EQ(message->substr(0, prefix.size()), prefix) << *message;
    const long long usec = std::stoll(message->substr(prefix.size()));
    const auto to_usec = [](const timespec& t) { return t.tv_sec * 1000000LL + t.tv_nsec / 1000; };
    EXPECT_GE(usec, to_usec(before));
    EXPECT_LE(usec, to_usec(after));
}

TEST(Notifier, IsASilentNoOpWithoutNotifySocket) {
    unsetenv("NOTIFY_SOCKET");
    const Notifier notifier;
    EXPECT_FALSE(notifier.enabled());
    EXPECT_FALSE(notifier.ready("up"));
    EXPECT_FALSE(notifier.watchdog());
    EXPECT_FALSE(notifier.stopping());
}

TEST(Notifier, ReportsSendFailureAsErrorCode) {
    setenv("NOTIFY_SOCKET", "/nonexistent-sluice-dir/notify.sock", 1);
    EXPECT_TRUE(Notifier{}.watchdog());
    unsetenv("NOTIFY_SOCKET");
}

TEST(Notifier, ReadsWatchdogIntervalForThisProcess) {
    setenv("WATCHDOG_USEC", "30000000", 1);
    setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
    EXPECT_EQ(Notifier{}.watchdog_interval(), std::chrono::microseconds(30s));
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

TEST(Notifier, IgnoresWatchdogMeantForAnotherProcess) {
    setenv("WATCHDOG_USEC", "30000000", 1);
    setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
    EXPECT_EQ(Notifier{}.watchdog_interval(), std::nullopt);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    EXPECT_EQ(Notifier{}.watchdog_interval(), std::nullopt);
}

TEST(WatchdogLoop, PingsFromTheEventLoopUntilCancelled) {
    NotifyReceiver receiver;
    asio::io_context io;
    asio::cancellation_signal stop;
    bool finished = false;
    asio::co_spawn(io, sluice::notify::watchdog_loop(Notifier{}, 10ms),
                   asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
                       finished = true;
                       if (e)
                           std::rethrow_exception(e);
                   }));

    // Pings only happen while the loop runs: drive it until three have arrived.
    int pings = 0;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (pings < 3 && std::chrono::steady_clock::now() < deadline) {
        io.run_for(20ms);
        while (auto message = receiver.receive(0ms)) {
            EXPECT_EQ(*message, "WATCHDOG=1");
            ++pings;
        }
    }
    EXPECT_GE(pings, 3) << "fewer than 3 WATCHDOG=1 pings within 5s";

    stop.emit(asio::cancellation_type::terminal);
    io.run_for(5s);
    EXPECT_TRUE(finished) << "watchdog_loop did not end after cancellation";
    EXPECT_TRUE(io.stopped()) << "io_context still has pending work";
}

TEST(WatchdogLoop, ReturnsAtOnceForNonPositivePeriod) {
    NotifyReceiver receiver;
    asio::io_context io;
    bool finished = false;
    asio::co_spawn(io, sluice::notify::watchdog_loop(Notifier{}, 0us), [&](std::exception_ptr e) {
        finished = true;
        if (e)
            std::rethrow_exception(e);
    });
    io.run_for(5s);
    EXPECT_TRUE(finished);
    EXPECT_EQ(receiver.receive(0ms), std::nullopt);
}

}  // namespace
