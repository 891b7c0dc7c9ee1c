// A repeated warning goes through once per interval and says how many were held back.
#include <gtest/gtest.h>

#include "infra/log/throttle.hpp"

namespace sluice::log {
namespace {

using namespace std::chrono_literals;

TEST(LogThrottle, LetsTheFirstThroughThenOnePerIntervalWithTheCountHeldBack) {
    Throttle throttle(10s);
    const Throttle::Clock::time_point t0{};
    EXPECT_EQ(throttle.admit(t0 + 1s), 0U);
    EXPECT_FALSE(throttle.admit(t0 + 2s));
    EXPECT_FALSE(throttle.admit(t0 + 5s));
    EXPECT_FALSE(throttle.admit(t0 + 10999ms));
    EXPECT_EQ(throttle.admit(t0 + 11s), 3U) << "three held back since the first";
    EXPECT_FALSE(throttle.admit(t0 + 12s));
    EXPECT_EQ(throttle.admit(t0 + 60s), 1U);
    EXPECT_EQ(throttle.admit(t0 + 120s), 0U) << "nothing held back in between";
}

}  // namespace
}  // namespace sluice::log
