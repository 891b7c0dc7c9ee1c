// Pins the one backoff every retry loop uses: the deterministic schedule on_error documents,
// and the jittered one reconnects use.
#include "infra/backoff/backoff.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sluice {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

std::vector<long long> take(Backoff& b, int n) {
    std::vector<long long> out;
    for (int i = 0; i < n; ++i)
        out.push_back(b.next().count());
    return out;
}

TEST(Backoff, WithoutJitterDoublesFromTheFirstDelayUpToTheCap) {
    Backoff b(1s, 5min, Backoff::Jitter::none);
    EXPECT_EQ(take(b, 11), (std::vector<long long>{1000, 2000, 4000, 8000, 16000, 32000, 64000,
                                                   128000, 256000, 300000, 300000}));
}

TEST(Backoff, AFirstDelayAboveTheCapIsKeptOnceThenTheCapApplies) {
    Backoff b(10min, 5min, Backoff::Jitter::none);
    EXPECT_EQ(take(b, 3), (std::vector<long long>{600000, 300000, 300000}));
}

TEST(Backoff, AZeroDelayStaysZero) {
    Backoff b(0ms, 5min, Backoff::Jitter::none);
    EXPECT_EQ(take(b, 3), (std::vector<long long>{0, 0, 0}));
}

TEST(Backoff, ResetStartsTheScheduleAgain) {
    Backoff b(100ms, 30s, Backoff::Jitter::none);
    (void)take(b, 5);
    b.reset();
    EXPECT_EQ(b.next(), 100ms);
}

TEST(Backoff, JitterDrawsEachDelayFromTheUpperHalfOfTheSchedule) {
    for (unsigned seed = 0; seed < 50; ++seed) {
        Backoff b(250ms, 30s, Backoff::Jitter::half, seed);
        milliseconds upper = 250ms;
        for (int i = 0; i < 12; ++i) {
            auto d = b.next();
            EXPECT_GE(d, upper / 2) << "seed " << seed << ", attempt " << i;
            EXPECT_LE(d, upper) << "seed " << seed << ", attempt " << i;
            upper = std::min<milliseconds>(upper * 2, 30s);
        }
    }
}

TEST(Backoff, TheSameSeedGivesTheSameDelays) {
    Backoff a(100ms, 10s, Backoff::Jitter::half, 7);
    Backoff b(100ms, 10s, Backoff::Jitter::half, 7);
    EXPECT_EQ(take(a, 8), take(b, 8));
}

}  // namespace
}  // namespace sluice
