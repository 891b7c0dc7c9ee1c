// Internal to sluice_http: the state shared by the Server object and its coroutines.
// Threading: touched only on the thread running the executor's io_context (one thread).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <map>

#include "infra/http/server.hpp"

namespace sluice::http {

struct Server::State {
    State(boost::asio::any_io_executor executor, Router r, ServerOptions o)
        : executor(std::move(executor)),
          router(std::move(r)),
          options(std::move(o)),
          acceptor(this->executor),
          changed(this->executor) {}

    // A live connection as stop() and the accept loop see it.
    struct Connection {
        boost::beast::tcp_stream* stream = nullptr;
        // Since when the session has been waiting for its current request (or for the first
        // byte of the next one on a keep-alive connection).
        std::chrono::steady_clock::time_point reading_since;
        bool writing = false;  // a response is in flight: stop() lets it finish, never evicted
        bool evicted = false;  // closed to make room; its session has not ended yet
    };

    // Wakes stop() after a connection or the accept loop ended.
    void notify_changed() { changed.cancel(); }
    void close_connections(bool including_writing);
    // Sessions that hold a slot: spawned, not ended, not already evicted.
    [[nodiscard]] std::size_t occupied() const { return sessions - evicting; }
    // Makes room for one new connection by closing the one that has been reading its current
    // request longest (never one writing a response). False when every slot is writing.
    bool evict_one();

    boost::asio::any_io_executor executor;
    const Router router;
    const ServerOptions options;
    boost::asio::ip::tcp::acceptor acceptor;
    boost::asio::steady_timer changed;
    bool stopping = false;
    bool accepting = false;    // the accept loop coroutine is alive
    std::size_t sessions = 0;  // spawned session coroutines not yet ended
    std::size_t evicting = 0;  // of those, evicted ones still ending
    std::uint64_t next_id = 0;
    std::map<std::uint64_t, Connection*> connections;  // registered by running sessions
    std::uint16_t port = 0;
    ServerStats stats;
};

// One connection's request/response loop; owns the socket. Defined in session.cpp.
boost::asio::awaitable<void> run_session(std::shared_ptr<Server::State> state,
                                         boost::asio::ip::tcp::socket socket);

}  // namespace sluice::http
