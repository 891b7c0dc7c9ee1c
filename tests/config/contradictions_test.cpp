// Configurations that can never do anything: which webhook URLs reach sluice's own endpoint, and
// what is still accepted next to the cases tests/config/broken/never_*.yaml reject.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/contradictions.hpp"

namespace sluice::config {
namespace {

TEST(ReachesListenAddress, MatchesTheListenAddressAndItsLoopbackNames) {
    EXPECT_TRUE(reaches_listen_address("http://127.0.0.1:9464/hooks", "127.0.0.1:9464"));
    EXPECT_TRUE(reaches_listen_address("http://localhost:9464/", "127.0.0.1:9464"));
    EXPECT_TRUE(reaches_listen_address("http://LocalHost:9464/", "localhost:9464"));
    EXPECT_TRUE(reaches_listen_address("http://localhost:9464/", "[::1]:9464"));
    EXPECT_TRUE(reaches_listen_address("http://[::1]:9464/", "[::1]:9464"));
    EXPECT_TRUE(reaches_listen_address("http://10.1.2.3:9464/", "10.1.2.3:9464"));
    EXPECT_TRUE(reaches_listen_address("http://[::ffff:127.0.0.1]:9464/", "127.0.0.1:9464"));
    EXPECT_TRUE(reaches_listen_address("http://0.0.0.0:9464/", "127.0.0.1:9464"));
}

TEST(ReachesListenAddress, TakesTheSchemesDefaultPortAndIgnoresTheScheme) {
    EXPECT_TRUE(reaches_listen_address("http://127.0.0.1/hooks", "127.0.0.1:80"));
    EXPECT_TRUE(reaches_listen_address("https://localhost/hooks", "127.0.0.1:443"));
    EXPECT_TRUE(reaches_listen_address("HTTPS://127.0.0.1:9464/", "127.0.0.1:9464"));
    EXPECT_FALSE(reaches_listen_address("http://127.0.0.1/hooks", "127.0.0.1:443"));
    EXPECT_FALSE(reaches_listen_address("http://127.0.0.1/hooks", "127.0.0.1:9464"));
}

TEST(ReachesListenAddress, WildcardsTakeTheLoopbackOfTheirFamily) {
    EXPECT_TRUE(reaches_listen_address("http://127.0.0.2:9464/", "0.0.0.0:9464"));
    EXPECT_TRUE(reaches_listen_address("http://localhost:9464/", "0.0.0.0:9464"));
    EXPECT_FALSE(reaches_listen_address("http://[::1]:9464/", "0.0.0.0:9464"));
    // [::] is dual-stack on Linux by default: it takes IPv4 connections too.
    EXPECT_TRUE(reaches_listen_address("http://[::1]:9464/", "[::]:9464"));
    EXPECT_TRUE(reaches_listen_address("http://127.0.0.1:9464/", "[::]:9464"));
}

TEST(ReachesListenAddress, LeavesOtherHostsPortsAndUnknowablesAlone) {
    EXPECT_FALSE(reaches_listen_address("http://127.0.0.1:9465/", "127.0.0.1:9464"));
    EXPECT_FALSE(reaches_listen_address("http://127.0.0.2:9464/", "127.0.0.1:9464"));
    EXPECT_FALSE(reaches_listen_address("http://localhost:9464/", "10.1.2.3:9464"));
    // A name other than localhost is not resolved while loading.
    EXPECT_FALSE(reaches_listen_address("http://receiver.internal:9464/", "0.0.0.0:9464"));
    // Port 0 picks a free port, which no URL can name in advance.
    EXPECT_FALSE(reaches_listen_address("http://127.0.0.1:0/", "127.0.0.1:0"));
    EXPECT_FALSE(reaches_listen_address("http://127.0.0.1:99999/", "127.0.0.1:9464"));
    EXPECT_FALSE(reaches_listen_address("not a url", "127.0.0.1:9464"));
    EXPECT_FALSE(reaches_listen_address("http://127.0.0.1:9464/", "not an address"));
}

const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string messages(const LoadResult& result) {
    std::string out;
    for (const auto& d : result.errors) {
        out.append(format(d)).append("\n");
    }
    return out;
}

TEST(Contradictions, AcceptsAWebhookAtTheListenAddressWhenTheEndpointIsDisabled) {
    const auto result = load_string(
        "database: {url: postgresql:///sluice}\n"
        "webhooks:\n"
        "  - {name: hook, url: \"http://127.0.0.1:9464/\", secrets: [" +
            secret +
            "]}\n"
            "http: {enabled: false, listen: 127.0.0.1:9464}\n",
        "test.yaml", {});
    EXPECT_TRUE(result.config.has_value()) << messages(result);
}

TEST(Contradictions, AcceptsFiltersAndHeadersThatSaySomething) {
    const auto result = load_string(
        "database: {url: postgresql:///sluice}\n"
        "projections:\n"
        "  - {name: p, aggregate_types: [Order], handlers: {OrderShipped: SELECT 1}}\n"
        "webhooks:\n"
        "  - name: hook\n"
        "    url: http://127.0.0.1:9465/\n"
        "    secrets: [" +
            secret +
            "]\n"
            "    event_types: [OrderShipped]\n"
            "    aggregate_types: [Order]\n"
            "    headers: {X-Tenant: acme, X-Tenant-Region: eu}\n"
            "http: {listen: 127.0.0.1:9464}\n",
        "test.yaml", {});
    EXPECT_TRUE(result.config.has_value()) << messages(result);
}

TEST(Contradictions, ReportsEveryCaseAtOnceAlongsideOtherErrors) {
    const auto result = load_string(
        "database: {url: postgresql:///sluice}\n"
        "tailer: {batch_size: 0}\n"
        "projections:\n"
        "  - {name: p, aggregate_types: [], handlers: {}}\n",
        "test.yaml", {});
    ASSERT_FALSE(result.config.has_value());
    ASSERT_EQ(result.errors.size(), 3u) << messages(result);
    EXPECT_EQ(format(result.errors[0]),
              "test.yaml:2:22: batch_size in tailer: must be between 1 and 100000, got 0");
    EXPECT_THAT(format(result.errors[1]),
                ::testing::StartsWith("test.yaml:4:32: aggregate_types in projection 'p'"));
    EXPECT_THAT(format(result.errors[2]),
                ::testing::StartsWith("test.yaml:4:46: handlers in projection 'p'"));
}

}  // namespace
}  // namespace sluice::config
