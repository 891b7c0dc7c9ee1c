// What /status says, as a pure function of the daemon's state: its numbers are plain JSON
// numbers (counts as integers, seconds as decimals), never Boost.JSON's `0E0` exponent form.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>

#include "daemon/json_text.hpp"
#include "daemon/status_report.hpp"

namespace sluice::daemon {
namespace {

namespace json = boost::json;

// A digit followed by an exponent: `0E0`, `6.5E0`, `1e-07`.
bool has_exponent(const std::string& text) {
    return std::regex_search(text, std::regex("[0-9][eE][-+]?[0-9]"));
}

TEST(JsonText, WritesDoublesAsPlainDecimals) {
    EXPECT_EQ(plain_decimal(0.0), "0.0");
    EXPECT_EQ(plain_decimal(6.0), "6.0");
    EXPECT_EQ(plain_decimal(6.25), "6.25");
    EXPECT_EQ(plain_decimal(0.000125), "0.000125");
    EXPECT_EQ(plain_decimal(1e-7), "0.0000001");
    EXPECT_EQ(plain_decimal(-2.5), "-2.5");
    EXPECT_EQ(plain_decimal(std::nan("")), "null");
}

TEST(JsonText, KeepsIntegersStringsAndStructure) {
    json::value v = {{"n", 0},
                     {"u", std::uint64_t{18446744073709551615ULL}},
                     {"d", 0.0},
                     {"s", "a\"b"},
                     {"a", json::array{1, 2.5, nullptr, true}}};
    std::string text = json_text(v);
    EXPECT_EQ(text, R"({"n":0,"u":18446744073709551615,"d":0.0,"s":"a\"b","a":[1,2.5,null,true]})");
    EXPECT_EQ(json::parse(text), v);
}

TEST(StatusJson, ZeroAndFractionalSecondsHaveNoExponent) {
    auto sub = std::make_shared<engine::SubscriberStatus>();
    sub->name = "p";
    sub->kind = "projection";
    sub->lag_events = 0;
    sub->lag_seconds = 0;
    auto late = std::make_shared<engine::SubscriberStatus>(*sub);
    late->name = "q";
    late->lag_events = 3;
    late->lag_seconds = 6.5;
    DaemonState state;
    state.subscribers = {sub, late};
    state.now = std::chrono::steady_clock::now();

    std::string text = status_json(state);
    EXPECT_FALSE(has_exponent(text)) << text;
    auto root = json::parse(text).as_object();
    const auto& subs = root.at("subscribers").as_array();
    EXPECT_TRUE(subs[0].at("lag_events").is_int64()) << "a count is an integer";
    EXPECT_EQ(subs[0].at("lag_seconds").as_double(), 0.0);
    EXPECT_EQ(subs[1].at("lag_seconds").as_double(), 6.5);
    EXPECT_NE(text.find(R"("lag_seconds":0.0)"), std::string::npos) << text;
    EXPECT_NE(text.find(R"("lag_seconds":6.5)"), std::string::npos) << text;
    EXPECT_NE(text.find(R"("outage_seconds":0.0)"), std::string::npos) << text;
}

TEST(StatusJson, ShowsWhichProjectionsAnOlderDefinitionBuiltOnTheirPartsToo) {
    auto part = std::make_shared<engine::SubscriberStatus>();
    part->name = "orders[2/4]";
    part->kind = "projection";
    auto other = std::make_shared<engine::SubscriberStatus>();
    other->name = "fresh";
    other->kind = "projection";
    auto hook = std::make_shared<engine::SubscriberStatus>();
    hook->name = "orders_hook";
    hook->kind = "webhook";
    DaemonState state;
    state.subscribers = {part, other, hook};
    state.definitions = {{"orders", {"handlers", "partitions"}, "continue"}};
    state.now = std::chrono::steady_clock::now();

    auto root = json::parse(status_json(state)).as_object();
    const auto& subs = root.at("subscribers").as_array();
    EXPECT_EQ(subs[0].at("definition"), "changed");
    EXPECT_EQ(json::serialize(subs[0].at("changed")), R"(["handlers","partitions"])");
    EXPECT_EQ(subs[1].at("definition"), "unknown") << "not compared yet";
    EXPECT_FALSE(subs[2].as_object().contains("definition")) << "webhooks have none";
    EXPECT_EQ(
        json::serialize(root.at("definitions")),
        R"([{"projection":"orders","definition":"changed","changed":["handlers","partitions"],"on_change":"continue"}])");
}

// A daemon that has just started has lost nothing: it is starting until its connections are up
// and the coordinator has taken its share of the units once.
TEST(StatusJson, ARebuildShowsItsGenerationProgressRateAndTimeLeft) {
    RebuildView building{.projection = "orders",
                         .command = "rebuild",
                         .phase = "building",
                         .running = true,
                         .seconds = 10,
                         .done = 40000,
                         .total = 100000,
                         .rate = 4000};
    RebuildView rollback{.projection = "orders", .command = "rollback", .phase = "swapping"};
    const auto out = rebuilds_json({building, rollback});
    ASSERT_EQ(out.size(), 2U);
    const auto& b = out[0].as_object();
    EXPECT_EQ(b.at("generation").as_string(), "orders@next");
    EXPECT_EQ(b.at("done").as_int64(), 40000);
    EXPECT_EQ(b.at("total").as_int64(), 100000);
    EXPECT_DOUBLE_EQ(b.at("rate").to_number<double>(), 4000);
    EXPECT_DOUBLE_EQ(b.at("eta_seconds").to_number<double>(), 15) << "60,000 left at 4,000/s";
    EXPECT_EQ(out[1].as_object().at("generation").as_string(), "orders@previous");
    EXPECT_TRUE(out[1].as_object().at("eta_seconds").is_null()) << "no rate, no time left";
}

TEST(Readiness, IsStartingUntilTheFirstRoundOfCoordinationThenNamesWhatWasLost) {
    DaemonState state;
    state.now = std::chrono::steady_clock::now();
    state.feed.last_progress = state.now;
    EXPECT_EQ(readiness(state).reason, "starting");
    state.feed.connected = true;
    EXPECT_EQ(readiness(state).reason, "starting");
    state.coordination.connected = true;
    EXPECT_EQ(readiness(state).reason, "starting");
    state.coordination.rounds = 1;
    EXPECT_TRUE(readiness(state).ready) << readiness(state).reason;

    state.feed.connected = false;
    state.feed.down_since = state.now;
    EXPECT_EQ(readiness(state).reason, "database connection lost");
    state.feed.connected = true;
    state.coordination.connected = false;
    EXPECT_EQ(readiness(state).reason, "coordination connection lost");
}

TEST(Readiness, AFirstConnectionThatFailsIsNotStarting) {
    DaemonState state;
    state.now = std::chrono::steady_clock::now();
    state.feed.down_since = state.now;  // the first connect failed
    EXPECT_EQ(readiness(state).reason, "database connection lost");
    state.feed.connected = true;
    state.coordination.last_error = "connection refused";
    EXPECT_EQ(readiness(state).reason, "coordination connection lost");
}

}  // namespace
}  // namespace sluice::daemon
