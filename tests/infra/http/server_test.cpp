// The server over real sockets on 127.0.0.1 (port 0). Every test runs on a fresh io_context
// and ends by checking that the io_context ran out of work, i.e. stop() left nothing behind.
#include "infra/http/server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>

namespace sluice::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using Body = asio::awaitable<void> (*)(asio::any_io_executor);

// Runs `body` on a fresh io_context; fails unless it finished and left no pending work.
void run_test(Body body) {
    asio::io_context io;
    bool finished = false;
    std::exception_ptr failure;
    asio::co_spawn(io, body(io.get_executor()), [&](std::exception_ptr e) {
        failure = e;
        finished = true;
    });
    io.run_for(std::chrono::seconds(20));
    EXPECT_TRUE(finished) << "the test coroutine did not finish within 20 s";
    EXPECT_TRUE(io.stopped()) << "work is still pending on the io_context after stop()";
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            ADD_FAILURE() << "test coroutine threw: " << e.what();
        }
    }
}

void require(bool condition, const std::string& what) {
    if (!condition) {
        throw std::runtime_error(what);
    }
}

using HttpResponse = bhttp::response<bhttp::string_body>;

// A Beast client on one connection. Every operation has a 5 s deadline.
class Client {
  public:
    explicit Client(asio::any_io_executor executor) : stream_(std::move(executor)) {}

    asio::awaitable<beast::error_code> connect(std::uint16_t port) {
        stream_.expires_after(std::chrono::seconds(5));
        auto [ec] = co_await stream_.async_connect(
            tcp::endpoint(asio::ip::address_v4::loopback(), port), use_tuple);
        co_return ec;
    }

    asio::awaitable<beast::error_code> send(bhttp::request<bhttp::string_body> request) {
        request.prepare_payload();
        stream_.expires_after(std::chrono::seconds(5));
        auto [ec, n] = co_await bhttp::async_write(stream_, request, use_tuple);
        co_return ec;
    }

    asio::awaitable<beast::error_code> send_raw(std::string bytes) {
        stream_.expires_after(std::chrono::seconds(5));
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes), use_tuple);
        co_return ec;
    }

    // The next response, or the error that ended the connection instead.
    asio::awaitable<std::pair<beast::error_code, HttpResponse>> receive() {
        HttpResponse response;
        stream_.expires_after(std::chrono::seconds(5));
        auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, response, use_tuple);
        co_return std::pair{ec, std::move(response)};
    }

    asio::awaitable<std::pair<beast::error_code, HttpResponse>> request(bhttp::verb verb,
                                                                        std::string target,
                                                                        std::string body = {}) {
        bhttp::request<bhttp::string_body> request{verb, target, 11};
        request.set(bhttp::field::host, "127.0.0.1");
        request.body() = std::move(body);
        auto ec = co_await send(std::move(request));
        if (ec)
            co_return std::pair{ec, HttpResponse{}};
        co_return co_await receive();
    }

    asio::awaitable<std::pair<beast::error_code, HttpResponse>> get(std::string target) {
        return request(bhttp::verb::get, std::move(target));
    }

  private:
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
};

Router make_router() {
    Router router;
    router.add("/hello", [](const Request&) { return Response{200, "text/plain", "hello\n"}; });
    return router;
}

ServerOptions loopback_options() {
    ServerOptions options;
    options.listen = tcp::endpoint(asio::ip::address_v4::loopback(), 0);
    return options;
}

asio::awaitable<void> serves_routes_over_one_keep_alive_connection(asio::any_io_executor ex) {
    Server server(ex, make_router(), loopback_options());
    server.start();
    require(server.port() != 0, "no bound port");
    Client client(ex);
    require(!co_await client.connect(server.port()), "connect failed");

    auto [ec1, hello] = co_await client.get("/hello");
    require(!ec1 && hello.result_int() == 200 && hello.body() == "hello\n", "GET /hello");
    require(hello[bhttp::field::content_type] == "text/plain", "content type");
    require(hello.keep_alive(), "keep-alive response");
    auto [ec2, missing] = co_await client.get("/missing");
    require(!ec2 && missing.result_int() == 404, "GET /missing is 404");
    auto [ec3, post] = co_await client.request(bhttp::verb::post, "/hello", "x");
    require(!ec3 && post.result_int() == 405 && post[bhttp::field::allow] == "GET",
            "POST is 405 with Allow: GET");
    require(server.connections_accepted() == 1, "all three requests reused one connection");
    co_await server.stop(std::chrono::seconds(1));
}

TEST(HttpServer, ServesRoutesOverOneKeepAliveConnection) {
    run_test(serves_routes_over_one_keep_alive_connection);
}

asio::awaitable<void> refuses_oversized_requests(asio::any_io_executor ex) {
    ServerOptions options = loopback_options();
    options.max_request_bytes = 1024;
    Server server(ex, make_router(), options);
    server.start();

    Client big_header(ex);
    require(!co_await big_header.connect(server.port()), "connect failed");
    bhttp::request<bhttp::string_body> request{bhttp::verb::get, "/hello", 11};
    request.set("X-Fill", std::string(4096, 'a'));
    (void)co_await big_header.send(std::move(request));  // the server may close mid-write
    auto [ec1, r1] = co_await big_header.receive();
    require(ec1 ? ec1 != beast::error::timeout : r1.result_int() == 413,
            "an oversized header gets 413 or a closed connection, got " +
                (ec1 ? ec1.message() : std::to_string(r1.result_int())));

    Client big_body(ex);
    require(!co_await big_body.connect(server.port()), "connect failed");
    auto [ec2, r2] = co_await big_body.request(bhttp::verb::get, "/hello", std::string(8192, 'b'));
    require(ec2 ? ec2 != beast::error::timeout : r2.result_int() == 413,
            "an oversized body gets 413 or a closed connection");

    Client after(ex);
    require(!co_await after.connect(server.port()), "connect failed");
    auto [ec3, r3] = co_await after.get("/hello");
    require(!ec3 && r3.result_int() == 200, "the server still serves after refusing");
    co_await server.stop(std::chrono::seconds(1));
}

TEST(HttpServer, AnswersAnOversizedRequestWith413OrClosesTheConnection) {
    run_test(refuses_oversized_requests);
}

asio::awaitable<void> answers_malformed_request_with_400(asio::any_io_executor ex) {
    Server server(ex, make_router(), loopback_options());
    server.start();
    Client client(ex);
    require(!co_await client.connect(server.port()), "connect failed");
    require(!co_await client.send_raw("NOT HTTP AT ALL\r\n\r\n"), "send failed");
    auto [ec, response] = co_await client.receive();
    require(!ec && response.result_int() == 400 && !response.keep_alive(),
            "a malformed request gets 400 and Connection: close");
    co_await server.stop(std::chrono::seconds(1));
}

TEST(HttpServer, AnswersAMalformedRequestWith400) {
    run_test(answers_malformed_request_with_400);
}

asio::awaitable<void> closes_silent_connection(asio::any_io_executor ex) {
    ServerOptions options = loopback_options();
    options.read_timeout = std::chrono::milliseconds(200);
    Server server(ex, make_router(), options);
    server.start();
    Client client(ex);
    require(!co_await client.connect(server.port()), "connect failed");
    auto [ec, response] = co_await client.receive();  // client deadline 5 s >> 200 ms
    require(ec && ec != beast::error::timeout,
            "the server closes a silent connection after its read timeout, got " + ec.message());
    co_await server.stop(std::chrono::seconds(1));
}

TEST(HttpServer, ClosesAConnectionThatSendsNothingWithinTheReadTimeout) {
    run_test(closes_silent_connection);
}

asio::awaitable<void> evicts_the_oldest_reader_for_a_new_connection(asio::any_io_executor ex) {
    ServerOptions options = loopback_options();
    options.max_connections = 2;
    Server server(ex, make_router(), options);
    server.start();
    // The oldest reader: an idle keep-alive connection, waiting for its next request.
    Client idle(ex);
    require(!co_await idle.connect(server.port()), "connect failed");
    auto [ec1, r1] = co_await idle.get("/hello");
    require(!ec1 && r1.result_int() == 200 && r1.keep_alive(), "the first connection is served");
    // A younger reader, half-way through its request.
    Client slow(ex);
    require(!co_await slow.connect(server.port()), "connect failed");
    require(!co_await slow.send_raw("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"), "send failed");
    asio::steady_timer settle(ex, std::chrono::milliseconds(50));
    co_await settle.async_wait(use_tuple);  // lets the server take it in; not a correctness wait

    Client fresh(ex);
    require(!co_await fresh.connect(server.port()), "connect failed");
    auto [ec2, r2] = co_await fresh.get("/hello");
    require(!ec2 && r2.result_int() == 200, "a connection beyond the limit is served");
    auto [ec3, r3] = co_await idle.receive();
    require(ec3 && ec3 != beast::error::timeout,
            "the oldest reader was closed to make room, got " +
                (ec3 ? ec3.message() : std::to_string(r3.result_int())));
    require(!co_await slow.send_raw("\r\n"), "send failed");
    auto [ec4, r4] = co_await slow.receive();
    require(!ec4 && r4.result_int() == 200, "the younger reader kept its connection");
    require(server.stats().evicted == 1 && server.stats().refused == 0,
            "one eviction, no refusal: evicted " + std::to_string(server.stats().evicted));
    co_await server.stop(std::chrono::seconds(1));
}

TEST(HttpServer, ANewConnectionAtTheLimitEvictsTheOldestReaderNotAYoungerOne) {
    run_test(evicts_the_oldest_reader_for_a_new_connection);
}

asio::awaitable<void> never_evicts_a_connection_writing(asio::any_io_executor ex) {
    // A response far larger than the loopback socket buffers, to a client that does not read
    // it: the server stays in the middle of writing it.
    Router router;
    router.add("/big", [](const Request&) {
        return Response{200, "text/plain", std::string(64 * 1024 * 1024, 'x')};
    });
    ServerOptions options = loopback_options();
    options.max_connections = 1;
    Server server(ex, std::move(router), options);
    server.start();
    Client writing(ex);
    require(!co_await writing.connect(server.port()), "connect failed");
    require(!co_await writing.send_raw("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
            "send failed");
    asio::steady_timer settle(ex, std::chrono::milliseconds(200));
    co_await settle.async_wait(use_tuple);  // lets the server start writing; checked below

    Client late(ex);
    require(!co_await late.connect(server.port()), "connect failed");
    auto [ec, r] = co_await late.get("/big");
    require(ec && ec != beast::error::timeout,
            "with every slot writing, a new connection is closed at once, got " +
                (ec ? ec.message() : std::to_string(r.result_int())));
    require(server.stats().refused == 1 && server.stats().evicted == 0,
            "refused, not evicted: refused " + std::to_string(server.stats().refused) +
                ", evicted " + std::to_string(server.stats().evicted));
    co_await server.stop(std::chrono::milliseconds(100));
}

TEST(HttpServer, NeverEvictsAConnectionWritingItsResponse) {
    run_test(never_evicts_a_connection_writing);
}

asio::awaitable<void> the_read_deadline_is_per_request(asio::any_io_executor ex) {
    ServerOptions options = loopback_options();
    options.read_timeout = std::chrono::milliseconds(300);
    Server server(ex, make_router(), options);
    server.start();
    Client trickle(ex);
    require(!co_await trickle.connect(server.port()), "connect failed");
    const auto started = std::chrono::steady_clock::now();
    require(!co_await trickle.send_raw("GET /hello HTTP/1.1\r\nX-Slow: "), "send failed");
    // One byte every 50 ms, far within 300 ms each, never finishing the header.
    beast::error_code ec;
    while (!ec && std::chrono::steady_clock::now() - started < std::chrono::seconds(3)) {
        asio::steady_timer gap(ex, std::chrono::milliseconds(50));
        co_await gap.async_wait(use_tuple);
        ec = co_await trickle.send_raw("a");
    }
    const auto lasted = std::chrono::steady_clock::now() - started;
    require(static_cast<bool>(ec), "a trickling request was never closed");
    require(lasted >= std::chrono::milliseconds(300) && lasted < std::chrono::milliseconds(1000),
            "closed after " + std::to_string(std::chrono::duration<double>(lasted).count()) +
                " s, not at the 0.3 s request deadline");
    require(server.stats().timed_out == 1, "counted as timed out");
    co_await server.stop(std::chrono::seconds(1));
}

TEST(HttpServer, TheReadDeadlineIsPerRequestSoTricklingBytesDoesNotExtendIt) {
    run_test(the_read_deadline_is_per_request);
}

asio::awaitable<void> stop_closes_idle_connections(asio::any_io_executor ex) {
    Server server(ex, make_router(), loopback_options());
    server.start();
    const std::uint16_t port = server.port();
    Client idle(ex);
    require(!co_await idle.connect(port), "connect failed");
    auto [ec1, r1] = co_await idle.get("/hello");
    require(!ec1 && r1.keep_alive(), "served with keep-alive");

    co_await server.stop(std::chrono::seconds(5));
    auto [ec2, r2] = co_await idle.receive();
    require(ec2 && ec2 != beast::error::timeout, "the idle connection was closed by stop()");
    Client late(ex);
    require(static_cast<bool>(co_await late.connect(port)), "the listener is closed");
}

TEST(HttpServer, StopClosesIdleConnectionsAndLeavesNoPendingWork) {
    run_test(stop_closes_idle_connections);
}

asio::awaitable<void> stop_finishes_response_in_flight(asio::any_io_executor ex) {
    // The /stop handler asks the server to stop while its own response is still unwritten.
    auto stop_server = std::make_shared<std::function<void()>>();
    Router router = make_router();
    router.add("/stop", [stop_server](const Request&) {
        (*stop_server)();
        return Response{200, "text/plain", "stopping\n"};
    });
    Server server(ex, std::move(router), loopback_options());
    *stop_server = [&server, ex] { asio::co_spawn(ex, server.stop(), asio::detached); };
    server.start();

    Client client(ex);
    require(!co_await client.connect(server.port()), "connect failed");
    auto [ec1, r1] = co_await client.get("/stop");
    require(!ec1 && r1.result_int() == 200 && r1.body() == "stopping\n",
            "the response in flight at stop is delivered in full");
    require(!r1.keep_alive(), "with Connection: close");
    auto [ec2, r2] = co_await client.receive();
    require(ec2 && ec2 != beast::error::timeout, "and the connection is then closed");
    co_await server.stop(std::chrono::seconds(1));  // idempotent; waits for the first stop
    *stop_server = nullptr;
}

TEST(HttpServer, StopLetsTheResponseInFlightFinishWithConnectionClose) {
    run_test(stop_finishes_response_in_flight);
}

TEST(HttpServer, ABusyAddressIsAListenErrorNamingItWithoutBoostInternals) {
    asio::io_context io;
    Server first(io.get_executor(), make_router(), loopback_options());
    first.start();
    ServerOptions same;
    same.listen = tcp::endpoint(asio::ip::address_v4::loopback(), first.port());
    Server second(io.get_executor(), make_router(), same);
    try {
        second.start();
        FAIL() << "a second server bound the same port";
    } catch (const ListenError& e) {
        EXPECT_EQ(e.code(), boost::system::errc::address_in_use);
        EXPECT_EQ(std::string(e.what()),
                  "127.0.0.1:" + std::to_string(first.port()) + ": address already in use");
    }
}

}  // namespace
}  // namespace sluice::http
