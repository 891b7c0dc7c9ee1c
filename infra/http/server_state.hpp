// Internal to sluice_http: the state shared by the Server object and its coroutines.
// Every member except the atomics is touched only on `strand`.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <map>

#include "infra/http/server.hpp"

namespace sluice::http {

struct Server::State {
    State(boost::asio::any_io_executor executor, Router r, ServerOptions o)
        : strand(boost::asio::make_strand(executor)),
          router(std::move(r)),
          options(std::move(o)),
          acceptor(strand),
          changed(strand) {}

    // A live connection as stop() sees it.
    struct Connection {
        boost::beast::tcp_stream* stream = nullptr;
        bool writing = false;  // a response is in flight: stop() lets it finish
    };

    // Wakes stop() after a connection or the accept loop ended.
    void notify_changed() { changed.cancel(); }
    void close_connections(bool including_writing);

    boost::asio::strand<boost::asio::any_io_executor> strand;
    const Router router;
    const ServerOptions options;
    boost::asio::ip::tcp::acceptor acceptor;
    boost::asio::steady_timer changed;
    bool stopping = false;
    bool accepting = false;    // the accept loop coroutine is alive
    std::size_t sessions = 0;  // spawned session coroutines not yet ended
    std::uint64_t next_id = 0;
    std::map<std::uint64_t, Connection*> connections;  // registered by running sessions
    std::atomic<std::uint16_t> port{0};
    std::atomic<std::uint64_t> accepted{0};
};

// One connection's request/response loop; owns the socket. Defined in session.cpp.
boost::asio::awaitable<void> run_session(std::shared_ptr<Server::State> state,
                                         boost::asio::ip::tcp::socket socket);

}  // namespace sluice::http
