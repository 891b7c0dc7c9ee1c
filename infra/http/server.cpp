#include "infra/http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <exception>
#include <sstream>

#include "infra/http/server_state.hpp"
#include "infra/log/log.hpp"

namespace sluice::http {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Completion of a detached server coroutine: an escaped exception is a bug, logged, contained.
auto log_failure(const char* task) {
    return [task](std::exception_ptr failure) {
        if (!failure) {
            return;
        }
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            log::error("http server task failed", {{"task", task}, {"error", e.what()}});
        }
    };
}

asio::awaitable<void> accept_loop(std::shared_ptr<Server::State> state) {
    struct Exit {
        Server::State& state;
        ~Exit() {
            state.accepting = false;
            state.notify_changed();
        }
    } exit{*state};

    while (!state->stopping) {
        auto [ec, socket] = co_await state->acceptor.async_accept(use_tuple);
        if (state->stopping) {
            break;
        }
        if (ec) {
            // E.g. out of file descriptors: back off instead of spinning on the error.
            log::warn("http accept failed", {{"error", ec.message()}});
            asio::steady_timer backoff(state->executor, std::chrono::milliseconds(100));
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        ++state->stats.accepted;
        if (state->occupied() >= state->options.max_connections && !state->evict_one()) {
            ++state->stats.refused;
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        ++state->sessions;
        asio::co_spawn(state->executor, run_session(state, std::move(socket)),
                       log_failure("http session"));
    }
}

// True once the accept loop and every session have ended; false if `deadline` came first.
asio::awaitable<bool> drained_by(std::shared_ptr<Server::State> state, Clock::time_point deadline) {
    while (state->accepting || state->sessions > 0) {
        if (Clock::now() >= deadline) {
            co_return false;
        }
        state->changed.expires_at(deadline);
        co_await state->changed.async_wait(use_tuple);
    }
    co_return true;
}

asio::awaitable<void> stop_server(std::shared_ptr<Server::State> state,
                                  std::chrono::milliseconds grace) {
    state->stopping = true;
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
    state->close_connections(false);
    // (co_await never sits in a condition: GCC 12 miscompiles that.)
    bool drained = co_await drained_by(state, Clock::now() + grace);
    if (drained)
        co_return;
    log::warn("http responses still in flight at the stop deadline; closing them",
              {{"connections", state->connections.size()}});
    state->close_connections(true);
    // Closing cancels every pending operation, so the sessions end at their next resumption.
    bool ended = co_await drained_by(state, Clock::now() + std::chrono::seconds(1));
    if (!ended) {
        log::error("http sessions did not end after their sockets were closed",
                   {{"sessions", state->sessions}});
    }
}

}  // namespace

void Server::State::close_connections(bool including_writing) {
    for (const auto& [id, connection] : connections) {
        if (including_writing || !connection->writing) {
            connection->stream->close();
        }
    }
}

bool Server::State::evict_one() {
    Connection* victim = nullptr;
    for (const auto& [id, connection] : connections) {
        if (connection->writing || connection->evicted)
            continue;
        if (!victim || connection->reading_since < victim->reading_since)
            victim = connection;
    }
    if (!victim)
        return false;
    // Its session sees the read cancelled and ends at its next resumption; until then it still
    // counts in `sessions`, but no longer holds a slot.
    victim->evicted = true;
    ++evicting;
    ++stats.evicted;
    victim->stream->close();
    return true;
}

Server::Server(asio::any_io_executor executor, Router router, ServerOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(router), std::move(options))) {}

Server::~Server() {
    state_->stopping = true;
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    state_->close_connections(true);
}

namespace {

// "[::1]:9464: address already in use".
std::string listen_failure(const tcp::endpoint& endpoint, const boost::system::error_code& code) {
    std::ostringstream out;
    out << endpoint << ": " << code.message();
    std::string text = out.str();
    // The system's reason ("Address already in use") continues a sentence here.
    if (auto at = text.find(": ") + 2; at < text.size())
        text[at] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[at])));
    return text;
}

}  // namespace

ListenError::ListenError(const tcp::endpoint& endpoint, boost::system::error_code code)
    : std::runtime_error(listen_failure(endpoint, code)), code_(code) {}

void Server::start() {
    State& s = *state_;
    const tcp::endpoint endpoint = s.options.listen;
    boost::system::error_code ec;
    s.acceptor.open(endpoint.protocol(), ec);
    if (!ec)
        s.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
        s.acceptor.bind(endpoint, ec);
    if (!ec)
        s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        boost::system::error_code ignored;
        s.acceptor.close(ignored);
        throw ListenError(endpoint, ec);
    }
    s.port = s.acceptor.local_endpoint().port();
    s.accepting = true;
    asio::co_spawn(s.executor, accept_loop(state_), log_failure("http accept loop"));
}

std::uint16_t Server::port() const {
    return state_->port;
}

tcp::endpoint Server::local_endpoint() const {
    return {state_->options.listen.address(), port()};
}

std::uint64_t Server::connections_accepted() const {
    return state_->stats.accepted;
}

const ServerStats& Server::stats() const {
    return state_->stats;
}

asio::awaitable<void> Server::stop(std::chrono::milliseconds grace) {
    // Not a coroutine itself: the returned awaitable owns the state, not `this`.
    return stop_server(state_, grace);
}

}  // namespace sluice::http
