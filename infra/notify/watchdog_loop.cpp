#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "infra/notify/notify.hpp"

namespace sluice::notify {

namespace asio = boost::asio;

asio::awaitable<void> watchdog_loop(Notifier notifier, std::chrono::microseconds ping_every) {
    if (ping_every <= std::chrono::microseconds::zero())
        co_return;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        // A failed ping is not retried early: the next tick is the retry, and if pings keep
        // failing systemd's watchdog is what should act.
        (void)notifier.watchdog();
        timer.expires_after(ping_every);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            co_return;  // operation_aborted: the task group is shutting down
    }
}

}  // namespace sluice::notify
