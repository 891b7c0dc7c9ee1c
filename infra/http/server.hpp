// The daemon's HTTP/1.1 endpoint (Boost.Beast, C++20 coroutines) on the daemon's io_context.
// Serves a Router: GET only, bounded request size, a write deadline on every response, and a
// bounded number of concurrent connections.
// No client can starve it (a watchdog polling /healthz, a scraper): the read deadline is per
// request, header and body together, not per byte, so a client trickling its request is closed
// when it runs out, however steadily it sends; and when every slot is taken, a new connection
// does not wait or get turned away but evicts the connection that has been reading its current
// request longest (an idle keep-alive one, or the slowest sender). A connection writing a
// response is never evicted. A fresh client is the newest reader, so it is served unless
// max_connections newer connections arrive before its request does.
// Threading: one thread. Everything, the router's handlers included, runs on the thread that
// runs the executor's io_context; call start(), port(), stats() and stop() from it too. The
// router is fixed at construction.
// Lifetime: the coroutines own the shared server state, so destroying the Server without
// awaiting stop() is safe (it closes everything), but only stop() waits for them to finish.
// Error policy: start() throws ListenError when the address cannot be bound.
// Per-connection failures (resets, timeouts, malformed requests) end that connection only;
// a malformed request gets 400 and an oversized one 413 before the connection closes.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include "infra/http/router.hpp"

namespace sluice::http {

using namespace std::chrono_literals;

struct ServerOptions {
    boost::asio::ip::tcp::endpoint listen{boost::asio::ip::address_v4::loopback(), 9464};
    std::size_t max_request_bytes = 64 * 1024;  // header limit and body limit, each
    // The whole request (header and body) must arrive within this of the session starting to
    // wait for it: after connecting, or after the previous response on a keep-alive connection.
    std::chrono::milliseconds read_timeout = 10s;
    std::chrono::milliseconds write_timeout = 10s;  // per response
    std::size_t max_connections = 64;               // beyond it, the oldest reader is evicted
};

// Running totals since start(), for metrics.
struct ServerStats {
    std::uint64_t accepted = 0;   // connections accepted (including the ones closed at once)
    std::uint64_t evicted = 0;    // closed while reading a request, to make room for a new one
    std::uint64_t timed_out = 0;  // closed at the read deadline with a request begun, unfinished
    std::uint64_t refused = 0;    // closed at once: the limit reached and every slot writing
};

// The address could not be bound or listened on. what(): "127.0.0.1:9464: address already in
// use" (the address and the system's reason, nothing of Boost's internals); code() says which.
class ListenError : public std::runtime_error {
  public:
    ListenError(const boost::asio::ip::tcp::endpoint& endpoint, boost::system::error_code code);
    [[nodiscard]] boost::system::error_code code() const { return code_; }

  private:
    boost::system::error_code code_;
};

class Server {
  public:
    Server(boost::asio::any_io_executor executor, Router router, ServerOptions options);
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server();

    // Binds, listens and starts accepting. Call once.
    void start();

    // The bound port (the ephemeral one when options.listen has port 0); 0 before start().
    [[nodiscard]] std::uint16_t port() const;
    [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;
    // Connections accepted so far (including ones closed for exceeding the limit).
    [[nodiscard]] std::uint64_t connections_accepted() const;
    [[nodiscard]] const ServerStats& stats() const;

    // Graceful stop: closes the acceptor and idle connections at once, lets responses being
    // written finish (with "Connection: close") until `grace` has passed, then closes the rest.
    // Completes when every connection coroutine has ended, so nothing of the server is left
    // on the io_context. Idempotent.
    [[nodiscard]] boost::asio::awaitable<void> stop(std::chrono::milliseconds grace = 5s);

    struct State;

  private:
    std::shared_ptr<State> state_;
};

}  // namespace sluice::http
