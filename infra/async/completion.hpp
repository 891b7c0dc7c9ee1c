// A one-shot event: set() once something has finished, and every wait resumes at once (or at
// its deadline). What shutdown, drain and hand-over await instead of polling a `done` flag:
// typically set() from the completion handler of the co_spawn that runs the task.
// Threading: the event-loop thread only (sluice runs one). Lifetime: outlives its waits.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <utility>

namespace sluice {

class Completion {
  public:
    using Clock = std::chrono::steady_clock;

    explicit Completion(boost::asio::any_io_executor ex)
        : signal_(std::move(ex), Clock::time_point::max()) {}
    Completion(const Completion&) = delete;
    Completion& operator=(const Completion&) = delete;

    void set() {
        set_ = true;
        signal_.cancel();
    }
    [[nodiscard]] bool is_set() const { return set_; }

    // Resumes once set() was called (also when it was before the wait).
    boost::asio::awaitable<void> wait() {
        if (!set_)
            co_await signal_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    // True once set(); false when `deadline` came first.
    boost::asio::awaitable<bool> wait_until(Clock::time_point deadline) {
        using namespace boost::asio::experimental::awaitable_operators;
        if (!set_ && Clock::now() < deadline) {
            boost::asio::steady_timer timeout(signal_.get_executor(), deadline);
            co_await (wait() ||
                      timeout.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)));
        }
        co_return set_;
    }
    boost::asio::awaitable<bool> wait_for(std::chrono::milliseconds bound) {
        return wait_until(Clock::now() + bound);
    }

    // Runs `op` until it ends (its value, or its exception rethrown) or set() is called first
    // (nullopt; `op` is cancelled). Not a bare `op || wait()`: `||` waits for the first
    // *success*, so an exception from `op` would be held until set().
    template <class T>
    boost::asio::awaitable<std::optional<T>> unless_set(boost::asio::awaitable<T> op) {
        using namespace boost::asio::experimental::awaitable_operators;
        auto which = co_await (caught(std::move(op)) || wait());
        if (which.index() == 1)
            co_return std::nullopt;
        auto [failure, value] = std::get<0>(std::move(which));
        if (failure)
            std::rethrow_exception(failure);
        co_return std::move(value);
    }

  private:
    template <class T>
    static boost::asio::awaitable<std::pair<std::exception_ptr, std::optional<T>>> caught(
        boost::asio::awaitable<T> op) {
        try {
            co_return std::pair{std::exception_ptr{}, std::optional<T>(co_await std::move(op))};
        } catch (...) {  // handed to unless_set(), which rethrows it
            co_return std::pair{std::current_exception(), std::optional<T>{}};
        }
    }

    bool set_ = false;
    boost::asio::steady_timer signal_;  // never expires; set() cancels its waits
};

}  // namespace sluice
