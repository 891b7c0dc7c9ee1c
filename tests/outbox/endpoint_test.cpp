#include "outbox/endpoint.hpp"

#include <gtest/gtest.h>

namespace sluice::outbox {
namespace {

TEST(Endpoint, SplitsAnHttpsUrlWithDefaultPort) {
    auto e = parse_endpoint("https://hooks.example.com/in/orders?token=abc");
    EXPECT_TRUE(e.https);
    EXPECT_EQ(e.host, "hooks.example.com");
    EXPECT_FALSE(e.host_is_ip);
    EXPECT_EQ(e.port, "443");
    EXPECT_EQ(e.target, "/in/orders?token=abc");
    EXPECT_EQ(e.host_header, "hooks.example.com");
    EXPECT_FALSE(e.authorization);
}

TEST(Endpoint, KeepsAnExplicitPortInTheHostHeader) {
    auto e = parse_endpoint("http://127.0.0.1:8080");
    EXPECT_FALSE(e.https);
    EXPECT_TRUE(e.host_is_ip);
    EXPECT_EQ(e.port, "8080");
    EXPECT_EQ(e.target, "/");
    EXPECT_EQ(e.host_header, "127.0.0.1:8080");
}

TEST(Endpoint, UnwrapsIpv6Literals) {
    auto e = parse_endpoint("http://[::1]:9000/x");
    EXPECT_EQ(e.host, "::1");
    EXPECT_TRUE(e.host_is_ip);
    EXPECT_EQ(e.host_header, "[::1]:9000");
    EXPECT_EQ(display_url(e), "http://[::1]:9000/x");
}

TEST(Endpoint, TurnsUserInfoIntoBasicAuthAndHidesItFromDisplay) {
    auto e = parse_endpoint("https://user:s3cret@example.com/hook?key=k");
    ASSERT_TRUE(e.authorization);
    EXPECT_EQ(*e.authorization, "Basic dXNlcjpzM2NyZXQ=");
    auto shown = display_url(e);
    EXPECT_EQ(shown, "https://example.com:443/hook");
}

TEST(Endpoint, RejectsOtherSchemesWithoutEchoingTheUrl) {
    try {
        (void)parse_endpoint("ftp://user:s3cret@example.com/");
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos);
    }
    EXPECT_THROW((void)parse_endpoint("not a url"), std::invalid_argument);
    EXPECT_THROW((void)parse_endpoint("http:///path"), std::invalid_argument);
}

}  // namespace
}  // namespace sluice::outbox
