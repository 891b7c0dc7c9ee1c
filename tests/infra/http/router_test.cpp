#include "infra/http/router.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <stdexcept>

#include "infra/http/listen_address.hpp"

namespace sluice::http {
namespace {

Router make_router() {
    Router router;
    router.add("/metrics", [](const Request&) {
        return Response{200, "text/plain; version=0.0.4", "m 1\n"};
    });
    router.add("/echo", [](const Request& r) {
        return Response{200, "text/plain", std::string(r.path) + "|" + std::string(r.query)};
    });
    router.add("/boom", [](const Request&) -> Response { throw std::runtime_error("secret"); });
    return router;
}

TEST(Router, CallsTheHandlerRegisteredForThePath) {
    const Response r = make_router().handle("GET", "/metrics");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
    EXPECT_EQ(r.body, "m 1\n");
}

TEST(Router, RoutesOnThePathAndPassesTheQueryToTheHandler) {
    EXPECT_EQ(make_router().handle("GET", "/echo?format=json&x=1").body, "/echo|format=json&x=1");
    EXPECT_EQ(make_router().handle("GET", "/echo").body, "/echo|");
}

TEST(Router, AnswersNotFoundForAnUnknownPath) {
    EXPECT_EQ(make_router().handle("GET", "/nope").status, 404u);
    EXPECT_EQ(make_router().handle("GET", "/metrics/").status, 404u);
    EXPECT_EQ(make_router().handle("GET", "http://host/metrics").status, 404u);
}

TEST(Router, AnswersMethodNotAllowedForAnythingButGet) {
    for (const char* method : {"POST", "PUT", "DELETE", "HEAD", "get"}) {
        EXPECT_EQ(make_router().handle(method, "/metrics").status, 405u) << method;
    }
}

TEST(Router, TurnsAThrowingHandlerIntoAnOpaqueServerError) {
    const Response r = make_router().handle("GET", "/boom");
    EXPECT_EQ(r.status, 500u);
    EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST(Router, RejectsDuplicateAndRelativePaths) {
    Router router = make_router();
    const auto ok = [](const Request&) { return Response{}; };
    EXPECT_THROW(router.add("/metrics", ok), std::invalid_argument);
    EXPECT_THROW(router.add("status", ok), std::invalid_argument);
    EXPECT_THROW(router.add("/empty", Handler{}), std::invalid_argument);
}

TEST(ParseListenAddress, AcceptsIpv4Ipv6AndLocalhost) {
    const auto v4 = parse_listen_address("127.0.0.1:9464");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->address().to_string(), "127.0.0.1");
    EXPECT_EQ(v4->port(), 9464);
    const auto v6 = parse_listen_address("[::1]:9464");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->address().is_v6());
    EXPECT_EQ(v6->address().to_string(), "::1");
    const auto any = parse_listen_address("0.0.0.0:0");
    ASSERT_TRUE(any);
    EXPECT_EQ(any->port(), 0);
    const auto local = parse_listen_address("localhost:80");
    ASSERT_TRUE(local);
    EXPECT_EQ(local->address().to_string(), "127.0.0.1");
}

TEST(ParseListenAddress, RejectsMalformedAddresses) {
    for (const char* text : {"", "9464", ":9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                             "127.0.0.1:-1", "127.0.0.1:94x", "::1:9464", "[::1]", "[::1]9464",
                             "[127.0.0.1]:80", "example.com:80", "[]:80"}) {
        EXPECT_FALSE(parse_listen_address(text)) << text;
    }
}

// Runs handle_async to its end on a private io_context.
Response handle_async(const Router& router, std::string_view method, std::string_view target,
                      bool from_loopback) {
    boost::asio::io_context io;
    Response out;
    boost::asio::co_spawn(io, router.handle_async(method, target, from_loopback),
                          [&](std::exception_ptr e, Response r) {
                              if (e)
                                  std::rethrow_exception(e);
                              out = std::move(r);
                          });
    io.run();
    return out;
}

Router with_post_route() {
    Router router = make_router();
    router.add_post("/rebuilds/", [](Request r) -> boost::asio::awaitable<Response> {
        co_return Response{202, "text/plain",
                           std::string(r.path) + (r.from_loopback ? "|loopback" : "|remote")};
    });
    return router;
}

TEST(Router, PassesAPostUnderAPrefixToItsHandlerWithWhereItCameFrom) {
    const auto router = with_post_route();
    auto r = handle_async(router, "POST", "/rebuilds/orders", true);
    EXPECT_EQ(r.status, 202u);
    EXPECT_EQ(r.body, "/rebuilds/orders|loopback");
    EXPECT_EQ(handle_async(router, "POST", "/rebuilds/orders", false).body,
              "/rebuilds/orders|remote");
}

TEST(Router, RefusesAnotherMethodUnderAPostPrefixAndTheBarePrefix) {
    const auto router = with_post_route();
    EXPECT_EQ(handle_async(router, "GET", "/rebuilds/orders", true).status, 405u);
    EXPECT_EQ(handle_async(router, "POST", "/rebuilds/", true).status, 404u);
    // GET routes are served as before.
    EXPECT_EQ(handle_async(router, "GET", "/metrics", true).status, 200u);
    EXPECT_EQ(handle_async(router, "POST", "/metrics", true).status, 405u);
}

}  // namespace
}  // namespace sluice::http
