// An HTTP/1.1 client for one webhook endpoint: POSTs a message over a pool of keep-alive
// connections (plain TCP or TLS), with one deadline for the whole attempt (resolve, connect,
// handshake, send, response). Redirects are never followed. The response body is read up to
// body_limit but only its first keep_response_bytes are kept.
//
// Threading: not thread-safe; the event-loop thread only (one client per webhook worker).
// The number of connections is bounded by the caller's concurrency: post() opens a new
// connection only when no idle one is available, and at most max_idle are kept for reuse; the
// publisher never has more than max_in_flight post() calls outstanding.
// Lifetime: the client must outlive every post() it started.
//
// Error policy: construction throws (std::invalid_argument for an unusable URL,
// std::runtime_error for TLS files) because that is a configuration error. post() never throws
// for network outcomes: they are reported in Response::error with a message free of URLs'
// credentials and of request headers (which carry signatures).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "outbox/endpoint.hpp"
#include "outbox/envelope.hpp"
#include "outbox/retry_policy.hpp"

namespace sluice::outbox {

struct ClientOptions {
    std::string url;
    config::Tls tls;
    std::chrono::milliseconds timeout{15000};  // whole attempt
    std::size_t max_idle = 64;                 // keep-alive connections kept for reuse
    std::size_t keep_response_bytes = 4096;
    std::size_t body_limit = 1024 * 1024;  // a longer response body is an error
};

struct Response {
    int status = 0;  // 0 when no status line was received
    ErrorKind error = ErrorKind::none;
    std::string error_message;  // empty when error == none
    std::chrono::steady_clock::duration duration{};
    std::string body;  // at most keep_response_bytes, raw bytes
    std::optional<std::string> retry_after;
    bool reused_connection = false;

    [[nodiscard]] EndpointReply outcome() const { return {status, error, retry_after}; }
};

class HttpClient {
  public:
    HttpClient(boost::asio::any_io_executor executor, ClientOptions options);
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;
    ~HttpClient();

    // POSTs body with the given headers (Host, Content-Length and Connection are set here).
    [[nodiscard]] boost::asio::awaitable<Response> post(Headers headers, std::string body);

    [[nodiscard]] const Endpoint& endpoint() const { return endpoint_; }
    [[nodiscard]] std::size_t idle_connections() const { return idle_.size(); }
    void close_idle();

    struct Connection;  // defined in http_client.cpp

  private:
    struct Attempt;
    boost::asio::awaitable<std::unique_ptr<Connection>> open(Attempt& attempt);
    boost::asio::awaitable<void> exchange(Connection& connection, Attempt& attempt);
    std::unique_ptr<Connection> take_idle();

    boost::asio::any_io_executor executor_;
    ClientOptions options_;
    Endpoint endpoint_;
    std::optional<boost::asio::ssl::context> tls_context_;  // set for https
    std::vector<std::unique_ptr<Connection>> idle_;         // most recently used last
};

}  // namespace sluice::outbox
