#include "outbox/token_bucket.hpp"

#include <gtest/gtest.h>

namespace sluice::outbox {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

const Clock::time_point t0{std::chrono::hours(1)};

TEST(TokenBucket, UnlimitedAlwaysHasATokenAndNeverWaits) {
    TokenBucket b(0, t0);
    EXPECT_FALSE(b.limited());
    for (int i = 0; i < 1000; ++i)
        EXPECT_TRUE(b.try_take(t0));
    EXPECT_EQ(b.wait(t0), Clock::duration::zero());
}

TEST(TokenBucket, StartsWithATenthOfASecondsWorthThenPacesAtTheRate) {
    TokenBucket b(20, t0);
    EXPECT_EQ(b.capacity(), 2);
    EXPECT_TRUE(b.try_take(t0));
    EXPECT_TRUE(b.try_take(t0));
    EXPECT_FALSE(b.try_take(t0));
    auto wait = b.wait(t0);
    EXPECT_GT(wait, 49ms);
    EXPECT_LE(wait, 50ms + 1us);
    EXPECT_FALSE(b.try_take(t0 + 49ms));
    EXPECT_TRUE(b.try_take(t0 + wait));
}

TEST(TokenBucket, AtLeastOneTokenForSlowRates) {
    TokenBucket b(1.0 / 60, t0);  // 1/min
    EXPECT_EQ(b.capacity(), 1);
    EXPECT_TRUE(b.try_take(t0));
    EXPECT_FALSE(b.try_take(t0 + 59s));
    EXPECT_TRUE(b.try_take(t0 + 60s + 1ms));
}

TEST(TokenBucket, TakingAsFastAsAllowedForTenSecondsStaysWithinTheRatePlusTheBurst) {
    TokenBucket b(20, t0);
    int taken = 0;
    // Poll every millisecond, as a busy sender would.
    for (auto now = t0; now < t0 + 10s; now += 1ms) {
        while (b.try_take(now))
            ++taken;
    }
    EXPECT_GE(taken, 200);
    EXPECT_LE(taken, 202);
}

TEST(TokenBucket, IdleTimeFillsOnlyUpToCapacity) {
    TokenBucket b(100, t0);
    int taken = 0;
    while (b.try_take(t0 + 1h))
        ++taken;
    EXPECT_EQ(taken, 10);
}

}  // namespace
}  // namespace sluice::outbox
