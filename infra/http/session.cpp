// One HTTP connection: read a request within the read deadline, route it, write the response
// within the write deadline, repeat while keep-alive holds and the server is not stopping.
// While reading, the connection may be evicted (closed by the accept loop, server.cpp).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>
#include <optional>

#include "infra/http/server_state.hpp"

namespace sluice::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Makes the session visible to stop(); on every exit path, hides it and wakes stop().
class Registration {
  public:
    Registration(Server::State& state, Server::State::Connection& connection)
        : state_(state), connection_(connection), id_(state.next_id++) {
        state_.connections.emplace(id_, &connection);
    }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() {
        state_.connections.erase(id_);
        if (connection_.evicted)
            --state_.evicting;
        --state_.sessions;
        state_.notify_changed();
    }

  private:
    Server::State& state_;
    const Server::State::Connection& connection_;
    std::uint64_t id_;
};

// The answer owed for a failed read, if any: oversized → 413, malformed → 400. Timeouts,
// resets, a clean close between requests or a peer vanishing mid-request get none.
std::optional<Response> response_for_read_error(const beast::error_code& ec) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit ||
        ec == bhttp::error::buffer_overflow) {
        return Response{413, "text/plain; charset=utf-8", "request too large\n"};
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return Response{400, "text/plain; charset=utf-8", "bad request\n"};
    }
    return std::nullopt;
}

bhttp::response<bhttp::string_body> to_beast(Response response, unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(response.status), version};
    out.set(bhttp::field::content_type, response.content_type);
    out.set(bhttp::field::cache_control, "no-store");
    if (response.status == 405) {
        out.set(bhttp::field::allow, "GET");
    }
    out.body() = std::move(response.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    return out;
}

}  // namespace

asio::awaitable<void> run_session(std::shared_ptr<Server::State> state,
                                  asio::ip::tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    Server::State::Connection connection{&stream};
    const Registration registration(*state, connection);
    const ServerOptions& options = state->options;
    const auto limit = static_cast<std::uint32_t>(std::min<std::size_t>(
        options.max_request_bytes, std::numeric_limits<std::uint32_t>::max()));
    beast::flat_buffer buffer(options.max_request_bytes);

    while (!state->stopping) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(limit);
        parser.body_limit(options.max_request_bytes);
        // One deadline for the whole request, not per read: trickling bytes does not extend it.
        connection.reading_since = std::chrono::steady_clock::now();
        stream.expires_after(options.read_timeout);
        auto [read_ec, read_bytes] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
        if (read_ec == beast::error::timeout && (parser.got_some() || buffer.size() > 0))
            ++state->stats.timed_out;  // a request begun, unfinished (not an idle keep-alive)

        // From here until the response is written, stop() leaves this connection alone,
        // even if the handler itself asks the server to stop.
        connection.writing = true;
        Response response;
        bool keep_alive = false;
        unsigned version = 11;
        if (read_ec) {
            auto error_response = response_for_read_error(read_ec);
            if (!error_response) {
                break;
            }
            response = std::move(*error_response);
        } else {
            const auto& request = parser.get();
            beast::error_code peer_ec;
            const auto peer = stream.socket().remote_endpoint(peer_ec);
            const bool loopback =
                !peer_ec && (peer.address().is_loopback() ||
                             (peer.address().is_v6() && peer.address().to_v6().is_v4_mapped() &&
                              asio::ip::make_address_v4(asio::ip::v4_mapped, peer.address().to_v6())
                                  .is_loopback()));
            response = co_await state->router.handle_async(request.method_string(),
                                                           request.target(), loopback);
            version = request.version();
            keep_alive = request.keep_alive();
        }
        keep_alive = keep_alive && !state->stopping;

        auto message = to_beast(std::move(response), version, keep_alive);
        stream.expires_after(options.write_timeout);
        auto [write_ec, written] = co_await bhttp::async_write(stream, message, use_tuple);
        connection.writing = false;
        if (write_ec || !keep_alive) {
            break;
        }
    }
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    stream.close();
}

}  // namespace sluice::http
