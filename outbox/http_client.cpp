#include "outbox/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "outbox/tls_context.hpp"

namespace sluice::outbox {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Servers close idle keep-alive connections after a few seconds to minutes; older ones are
// not worth a failed first write.
constexpr auto max_idle_age = std::chrono::seconds(30);
constexpr std::size_t header_limit = 16 * 1024;

bool is_tls_error(const error_code& ec) {
    if (ec == ssl::error::stream_truncated)
        return false;  // peer closed without close_notify
    return ec.category() == asio::error::get_ssl_category() ||
           ec.category() == ssl::error::get_stream_category();
}

}  // namespace

struct HttpClient::Connection {
    std::optional<beast::tcp_stream> tcp;                     // http
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;  // https
    beast::flat_buffer buffer;
    Clock::time_point idle_since;

    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *tcp; }
};

struct HttpClient::Attempt {
    Clock::time_point deadline;
    std::chrono::milliseconds timeout{};
    http::request<http::string_body> request;
    Response response;
    std::string_view phase = "connect";
    bool received_anything = false;
    bool keep_alive = false;

    [[nodiscard]] bool failed() const { return response.error != ErrorKind::none; }

    void fail(const error_code& ec, std::string_view what) {
        if (ec == beast::error::timeout || Clock::now() >= deadline) {
            response.error = ErrorKind::timeout;
            response.error_message = "timed out after " + std::to_string(timeout.count()) +
                                     " ms during " + std::string(phase);
        } else if (is_tls_error(ec)) {
            response.error = ErrorKind::tls;
            response.error_message = std::string(what) + ": " + ec.message();
        } else {
            response.error = ErrorKind::network;
            response.error_message = std::string(what) + ": " + ec.message();
        }
    }

    void fail_body_limit(std::size_t limit) {
        response.error = ErrorKind::network;
        response.error_message = "response body exceeds " + std::to_string(limit) + " bytes";
    }

    void reset_outcome() {
        response = Response{};
        received_anything = false;
        keep_alive = false;
    }
};

namespace {

template <class Stream>
asio::awaitable<void> exchange_on(Stream& stream, beast::flat_buffer& buffer,
                                  http::request<http::string_body>& request,
                                  const ClientOptions& options, auto& attempt) {
    attempt.phase = "send";
    auto [write_ec, written] = co_await http::async_write(stream, request, use_tuple);
    (void)written;
    if (write_ec) {
        attempt.fail(write_ec, "sending request failed");
        co_return;
    }

    attempt.phase = "response";
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(options.body_limit);
    parser.header_limit(header_limit);
    auto [head_ec, head_bytes] =
        co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (head_ec == http::error::body_limit) {  // Content-Length already over the limit
        attempt.received_anything = true;
        attempt.fail_body_limit(options.body_limit);
        co_return;
    }
    if (head_ec) {
        attempt.received_anything = head_bytes > 0 || buffer.size() > 0;
        attempt.fail(head_ec, "reading response failed");
        co_return;
    }
    attempt.received_anything = true;
    const auto& head = parser.get();
    attempt.response.status = static_cast<int>(head.result_int());
    if (auto it = head.find(http::field::retry_after); it != head.end()) {
        attempt.response.retry_after = std::string(it->value().substr(0, 128));
    }

    std::size_t total = 0;
    while (!parser.is_done()) {
        char chunk[8192];
        parser.get().body().data = chunk;
        parser.get().body().size = sizeof chunk;
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
        (void)n;
        if (ec == http::error::need_buffer)
            ec = {};
        if (ec == http::error::body_limit) {
            attempt.fail_body_limit(options.body_limit);
            co_return;
        }
        if (ec) {
            attempt.fail(ec, "reading response body failed");
            co_return;
        }
        std::size_t got = sizeof chunk - parser.get().body().size;
        total += got;
        auto& kept = attempt.response.body;
        if (kept.size() < options.keep_response_bytes) {
            kept.append(chunk, std::min(got, options.keep_response_bytes - kept.size()));
        }
    }
    attempt.keep_alive = parser.keep_alive();
}

}  // namespace

HttpClient::HttpClient(asio::any_io_executor executor, ClientOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      endpoint_(parse_endpoint(options_.url)) {
    if (endpoint_.https)
        tls_context_.emplace(make_client_context(options_.tls));
}

HttpClient::~HttpClient() = default;

void HttpClient::close_idle() {
    idle_.clear();
}

std::unique_ptr<HttpClient::Connection> HttpClient::take_idle() {
    while (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        if (Clock::now() - c->idle_since < max_idle_age)
            return c;
    }
    return nullptr;
}

asio::awaitable<std::unique_ptr<HttpClient::Connection>> HttpClient::open(Attempt& attempt) {
    attempt.phase = "connect";
    std::vector<tcp::endpoint> endpoints;
    if (endpoint_.host_is_ip) {
        endpoints.emplace_back(asio::ip::make_address(endpoint_.host),
                               static_cast<unsigned short>(std::stoi(endpoint_.port)));
    } else {
        attempt.phase = "resolve";
        // The resolver runs getaddrinfo on Asio's private thread; the timer bounds our wait
        // for it (best effort: a getaddrinfo call already running is not interrupted).
        auto resolver = std::make_shared<tcp::resolver>(executor_);
        asio::steady_timer timer(executor_, attempt.deadline);
        timer.async_wait([resolver](error_code ec) {
            if (!ec)
                resolver->cancel();
        });
        auto [ec, results] =
            co_await resolver->async_resolve(endpoint_.host, endpoint_.port, use_tuple);
        timer.cancel();
        if (ec) {
            attempt.fail(ec, "resolving " + endpoint_.host + " failed");
            co_return nullptr;
        }
        for (const auto& r : results)
            endpoints.push_back(r.endpoint());
    }

    auto conn = std::make_unique<Connection>();
    if (tls_context_) {
        conn->tls.emplace(executor_, *tls_context_);
        prepare_connection(conn->tls->native_handle(), endpoint_.host, endpoint_.host_is_ip,
                           options_.tls.verify);
    } else {
        conn->tcp.emplace(executor_);
    }
    auto& lowest = conn->lowest();
    lowest.expires_at(attempt.deadline);
    attempt.phase = "connect";
    auto [connect_ec, connected] = co_await lowest.async_connect(endpoints, use_tuple);
    (void)connected;
    if (connect_ec) {
        attempt.fail(connect_ec,
                     "connecting to " + endpoint_.host + ":" + endpoint_.port + " failed");
        co_return nullptr;
    }
    error_code ignored;
    lowest.socket().set_option(tcp::no_delay(true), ignored);

    if (conn->tls) {
        attempt.phase = "tls handshake";
        auto [hs_ec] = co_await conn->tls->async_handshake(ssl::stream_base::client, use_tuple);
        if (hs_ec) {
            attempt.fail(hs_ec, "tls handshake with " + endpoint_.host + " failed");
            if (attempt.response.error == ErrorKind::tls) {
                attempt.response.error_message = describe_handshake_failure(
                    conn->tls->native_handle(), attempt.response.error_message);
            }
            co_return nullptr;
        }
    }
    co_return conn;
}

asio::awaitable<void> HttpClient::exchange(Connection& connection, Attempt& attempt) {
    connection.lowest().expires_at(attempt.deadline);
    if (connection.tls) {
        co_await exchange_on(*connection.tls, connection.buffer, attempt.request, options_,
                             attempt);
    } else {
        co_await exchange_on(*connection.tcp, connection.buffer, attempt.request, options_,
                             attempt);
    }
}

asio::awaitable<Response> HttpClient::post(Headers headers, std::string body) {
    auto start = Clock::now();
    Attempt attempt;
    attempt.timeout = options_.timeout;
    attempt.deadline = start + options_.timeout;
    attempt.request = {http::verb::post, endpoint_.target, 11};
    attempt.request.set(http::field::host, endpoint_.host_header);
    if (endpoint_.authorization) {
        attempt.request.set(http::field::authorization, *endpoint_.authorization);
    }
    for (auto& [name, value] : headers)
        attempt.request.set(name, value);
    attempt.request.body() = std::move(body);
    attempt.request.keep_alive(true);
    attempt.request.prepare_payload();

    // A reused connection may have been closed by the server while idle; when it fails before
    // any response byte arrived, the request is sent once more on a fresh connection.
    for (int round = 0; round < 2; ++round) {
        attempt.reset_outcome();
        auto connection = take_idle();
        bool reused = connection != nullptr;
        if (!connection) {
            connection = co_await open(attempt);
            if (!connection)
                break;
        }
        attempt.response.reused_connection = reused;
        co_await exchange(*connection, attempt);
        if (!attempt.failed()) {
            if (attempt.keep_alive && idle_.size() < options_.max_idle) {
                connection->idle_since = Clock::now();
                idle_.push_back(std::move(connection));
            }
            break;
        }
        bool stale =
            reused && !attempt.received_anything && attempt.response.error == ErrorKind::network;
        if (!stale)
            break;
    }
    attempt.response.duration = Clock::now() - start;
    co_return std::move(attempt.response);
}

}  // namespace sluice::outbox
