// The HTTP endpoint as a watchdog and a scraper see it while clients that trickle their request
// headers (slow loris) occupy every connection the endpoint accepts: /healthz and /metrics must
// still answer, fast. 200 slow connections (over three times the 64 served at once), each
// sending one header byte every 500 ms (well within the 10 s request deadline per byte, never
// finishing its header) and reconnecting as soon as it is closed, run in a thread of their own
// against the real `sluice run` on loopback.
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <iostream>
#include <thread>

#include "daemon_fixture.hpp"
#include "daemon_process.hpp"

namespace sluice::testing {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// `count` slow-loris clients on their own io_context and thread, until destroyed.
class SlowLoris {
  public:
    SlowLoris(unsigned short port, int count, std::chrono::milliseconds byte_interval)
        : port_(port), byte_interval_(byte_interval) {
        for (int i = 0; i < count; ++i)
            asio::co_spawn(io_, client(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    SlowLoris(const SlowLoris&) = delete;
    SlowLoris& operator=(const SlowLoris&) = delete;
    ~SlowLoris() {
        io_.stop();
        thread_.join();
    }

    // Connections established so far, and how many of them are open now.
    [[nodiscard]] int connects() const { return connects_.load(); }
    [[nodiscard]] int open() const { return open_.load(); }
    // The most connections that were open at once.
    [[nodiscard]] int most_open() const { return most_open_.load(); }

  private:
    asio::awaitable<void> client() {
        auto ex = co_await asio::this_coro::executor;
        asio::steady_timer timer(ex);
        while (true) {
            tcp::socket socket(ex);
            auto [ec] = co_await socket.async_connect(
                tcp::endpoint(asio::ip::address_v4::loopback(), port_), use_tuple);
            if (!ec) {
                ++connects_;
                int now_open = ++open_;
                int most = most_open_.load();
                while (now_open > most && !most_open_.compare_exchange_weak(most, now_open)) {
                }
                // A request line and a header that never ends, one byte at a time.
                std::string start = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
                auto [wec, n] = co_await asio::async_write(socket, asio::buffer(start), use_tuple);
                while (!wec) {
                    timer.expires_after(byte_interval_);
                    co_await timer.async_wait(use_tuple);
                    char byte = 'a';
                    std::tie(wec, n) =
                        co_await asio::async_write(socket, asio::buffer(&byte, 1), use_tuple);
                }
                --open_;  // closed by the server: come back at once, as an attacker would
            }
            timer.expires_after(std::chrono::milliseconds(5));
            co_await timer.async_wait(use_tuple);
        }
    }

    asio::io_context io_;
    unsigned short port_;
    std::chrono::milliseconds byte_interval_;
    std::atomic<int> connects_{0};
    std::atomic<int> open_{0};
    std::atomic<int> most_open_{0};
    std::thread thread_;  // last: started once everything above exists
};

const std::string projection = R"(projections:
  - name: applied
    setup: CREATE TABLE IF NOT EXISTS applied (event_id bigint PRIMARY KEY)
    handlers:
      Tick: INSERT INTO applied VALUES (:id)
)";

class HttpFlood : public DaemonTest {};

TEST_F(HttpFlood, HealthzAnswersWithin100MsEverySecondWhile200SlowClientsHoldConnections) {
    auto daemon = DaemonProcess::start(write_file("sluice.yaml", base_config() + projection));
    ASSERT_TRUE(wait_running(daemon, {"applied"}));
    const unsigned short port = daemon.http_port();

    SlowLoris flood(port, 200, std::chrono::milliseconds(500));
    ASSERT_TRUE(wait_until([&] { return flood.connects() >= 200; }, 10s))
        << "the slow clients connected only " << flood.connects() << " times";

    const auto started = Clock::now();
    std::string measured;
    for (int second = 0; second < 6; ++second) {
        const auto round = Clock::now();
        std::string outcome;
        try {
            auto r = http_get(port, "/healthz", 1000ms);
            outcome = "status " + std::to_string(r.status);
            EXPECT_EQ(r.status, 200) << "second " << second;
        } catch (const std::exception& e) {
            outcome = e.what();
            ADD_FAILURE() << "second " << second << ": /healthz failed: " << e.what();
        }
        const auto took =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - round);
        measured += (measured.empty() ? "" : ", ") + std::to_string(took.count()) + " ms";
        EXPECT_LE(took.count(), 100)
            << "second " << second << ": /healthz took " << took.count() << " ms (" << outcome
            << "); slow clients open " << flood.open();
        std::this_thread::sleep_until(round + 1s);  // paces the probe: one per second
    }
    EXPECT_GE(Clock::now() - started, 5s);
    std::cout << "/healthz under the flood, once a second: " << measured << "\n";

    const auto scrape_started = Clock::now();
    auto metrics = http_get(port, "/metrics", 1000ms);
    const auto scrape_took = Clock::now() - scrape_started;
    EXPECT_EQ(metrics.status, 200);
    EXPECT_LE(scrape_took, 100ms) << "a scrape during the flood took "
                                  << std::chrono::duration<double>(scrape_took).count() << " s";
    auto evicted =
        metric_sample(metrics.body, "sluice_http_connections_closed_total", {"reason=\"evicted\""});
    ASSERT_TRUE(evicted.has_value()) << "no sluice_http_connections_closed_total{reason=evicted}";
    std::cout << "connections evicted: " << *evicted << ", slow connects: " << flood.connects()
              << "\n";
    EXPECT_GT(*evicted, 0) << "the flood never filled the endpoint, so it proved nothing";
    EXPECT_GE(flood.most_open(), 64) << "the slow clients never held every connection";
    EXPECT_TRUE(daemon.running()) << daemon.output_tail();
}

}  // namespace
}  // namespace sluice::testing
