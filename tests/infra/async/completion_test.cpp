// Pins what shutdown, drain and hand-over rely on: a wait resumes as soon as the awaited task
// sets its Completion, not at a polling tick, and still ends at its deadline when it does not.
#include "infra/async/completion.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <stdexcept>

namespace sluice {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Runs `body` on a fresh io_context and checks it finished and left no work behind.
template <class Body>
void run(Body body) {
    asio::io_context io;
    bool finished = false;
    std::exception_ptr failure;
    asio::co_spawn(io, body(io), [&](std::exception_ptr e) {
        failure = e;
        finished = true;
    });
    io.run_for(10s);
    EXPECT_TRUE(finished);
    EXPECT_TRUE(io.stopped()) << "work is still pending on the io_context";
    if (failure)
        std::rethrow_exception(failure);
}

asio::awaitable<void> set_after(Completion& c, std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
    c.set();
}

TEST(Completion, AWaitResumesWhenSetNotAtItsDeadline) {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        Completion done(io.get_executor());
        asio::co_spawn(io, set_after(done, 50ms), asio::detached);
        auto t0 = Clock::now();
        bool set = co_await done.wait_for(10s);
        EXPECT_TRUE(set);
        EXPECT_LT(Clock::now() - t0, 2s);
    });
}

// Parameters, not lambda captures: the coroutine frame keeps them.
asio::awaitable<void> count_when_set(Completion& done, int& resumed) {
    bool set = co_await done.wait_for(10s);  // (not in the condition: GCC 12 miscompiles it)
    if (set)
        ++resumed;
}

TEST(Completion, EveryWaiterResumesAndALaterWaitReturnsAtOnce) {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        Completion done(io.get_executor());
        int resumed = 0;
        for (int i = 0; i < 3; ++i)
            asio::co_spawn(io, count_when_set(done, resumed), asio::detached);
        co_await set_after(done, 20ms);
        asio::steady_timer settle(io, 20ms);
        co_await settle.async_wait(asio::use_awaitable);
        EXPECT_EQ(resumed, 3);
        bool still_set = co_await done.wait_for(0ms);
        EXPECT_TRUE(still_set);
    });
}

TEST(Completion, AWaitEndsAtItsDeadlineWhenNothingSetsIt) {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        Completion done(io.get_executor());
        auto t0 = Clock::now();
        bool set = co_await done.wait_for(50ms);
        EXPECT_FALSE(set);
        EXPECT_GE(Clock::now() - t0, 50ms);
    });
}

asio::awaitable<int> fail_after(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
    throw std::runtime_error("connection lost");
}

TEST(Completion, UnlessSetRethrowsTheOperationsErrorAtOnce) {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        Completion never(io.get_executor());
        bool threw = false;
        try {
            (void)co_await never.unless_set(fail_after(10ms));
        } catch (const std::runtime_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
    });
}

TEST(Completion, UnlessSetCancelsTheOperationWhenSet) {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        Completion stop(io.get_executor());
        asio::co_spawn(io, set_after(stop, 20ms), asio::detached);
        auto slow = [](asio::any_io_executor ex) -> asio::awaitable<int> {
            asio::steady_timer t(ex, 10s);
            co_await t.async_wait(asio::use_awaitable);
            co_return 1;
        };
        auto t0 = Clock::now();
        auto result = co_await stop.unless_set(slow(io.get_executor()));
        EXPECT_FALSE(result.has_value());
        EXPECT_LT(Clock::now() - t0, 2s);
    });
}

}  // namespace
}  // namespace sluice
