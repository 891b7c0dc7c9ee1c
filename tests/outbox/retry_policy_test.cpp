#include "outbox/retry_policy.hpp"

#include <gtest/gtest.h>

namespace sluice::outbox {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

const auto now = std::chrono::sys_days(std::chrono::year(2015) / 10 / 21) + 7h + 28min;
UniformRandom fixed(double u) {
    return [u] { return u; };
}

config::Retry schedule() {
    config::Retry r;
    r.schedule = {5s, 5min, 30min};
    r.jitter = 0.2;
    return r;
}

Decision after(int status, int attempts = 1, std::optional<std::string> retry_after = {},
               double u = 0.5) {
    return decide({status, ErrorKind::none, std::move(retry_after)}, attempts, schedule(), now,
                  fixed(u));
}

TEST(RetryPolicy, TwoHundredsAreDelivered) {
    EXPECT_EQ(after(200).verdict, Verdict::delivered);
    EXPECT_EQ(after(204).verdict, Verdict::delivered);
    EXPECT_EQ(after(299).label, "2xx");
}

TEST(RetryPolicy, RedirectsAreFailuresRetriedOnSchedule) {
    auto d = after(301);
    EXPECT_EQ(d.verdict, Verdict::retry);
    EXPECT_EQ(d.delay, 5s);
    EXPECT_EQ(d.label, "3xx");
}

TEST(RetryPolicy, GoneDisablesTheEndpoint) {
    auto d = after(410, 3);
    EXPECT_EQ(d.verdict, Verdict::disable);
    EXPECT_EQ(d.label, "4xx");
}

TEST(RetryPolicy, FollowsTheScheduleThenDies) {
    EXPECT_EQ(after(500, 1).delay, 5s);
    EXPECT_EQ(after(500, 2).delay, 5min);
    EXPECT_EQ(after(500, 3).delay, 30min);
    EXPECT_EQ(after(500, 3).label, "5xx");
    EXPECT_EQ(after(500, 4).verdict, Verdict::dead);
    EXPECT_EQ(after(404, 4).verdict, Verdict::dead);
}

TEST(RetryPolicy, NetworkTimeoutAndTlsErrorsRetryWithTheirLabels) {
    for (auto [kind, label] :
         {std::pair{ErrorKind::timeout, "timeout"}, std::pair{ErrorKind::network, "network"},
          std::pair{ErrorKind::tls, "tls"}}) {
        auto d = decide({0, kind, {}}, 2, schedule(), now, fixed(0.5));
        EXPECT_EQ(d.verdict, Verdict::retry);
        EXPECT_EQ(d.delay, 5min);
        EXPECT_EQ(d.label, label);
    }
}

TEST(RetryPolicy, HonoursRetryAfterSecondsOn429And503) {
    EXPECT_EQ(after(429, 1, "120").delay, 120s);
    EXPECT_EQ(after(503, 2, " 7 ").delay, 7s);
    // Other statuses ignore Retry-After.
    EXPECT_EQ(after(500, 1, "120").delay, 5s);
}

TEST(RetryPolicy, HonoursRetryAfterInEveryHttpDateForm) {
    EXPECT_EQ(after(503, 1, "Wed, 21 Oct 2015 07:30:00 GMT").delay, 120s);
    EXPECT_EQ(after(503, 1, "Wednesday, 21-Oct-15 07:30:00 GMT").delay, 120s);
    EXPECT_EQ(after(503, 1, "Wed Oct 21 07:30:00 2015").delay, 120s);
}

TEST(RetryPolicy, ClampsRetryAfterBetweenOneSecondAndOneHour) {
    EXPECT_EQ(after(429, 1, "0").delay, 1s);
    EXPECT_EQ(after(429, 1, "86400").delay, 1h);
    EXPECT_EQ(after(429, 1, "99999999999999999999").delay, 1h);
    EXPECT_EQ(after(429, 1, "Wed, 21 Oct 2015 07:00:00 GMT").delay, 1s);  // in the past
    EXPECT_EQ(after(429, 1, "Thu, 22 Oct 2015 07:28:00 GMT").delay, 1h);
}

TEST(RetryPolicy, FallsBackToTheScheduleForUnparseableRetryAfter) {
    EXPECT_EQ(after(429, 1, "soon").delay, 5s);
    EXPECT_EQ(after(429, 1, "Wed, 32 Oct 2015 07:30:00 GMT").delay, 5s);
    EXPECT_EQ(after(429, 1, "-5").delay, 5s);
}

TEST(RetryPolicy, RetryAfterDoesNotExtendAnExhaustedSchedule) {
    EXPECT_EQ(after(429, 4, "10").verdict, Verdict::dead);
}

TEST(RetryPolicy, JitterStaysWithinTheConfiguredFraction) {
    EXPECT_EQ(with_jitter(10s, 0.2, 0.0), 8s);
    EXPECT_EQ(with_jitter(10s, 0.2, 0.5), 10s);
    EXPECT_LE(with_jitter(10s, 0.2, 0.999999), 12s);
    EXPECT_GT(with_jitter(10s, 0.2, 0.999999), 11999ms);
    EXPECT_EQ(with_jitter(10s, 0.0, 0.9), 10s);
    for (double u = 0; u < 1; u += 0.01) {
        auto d = after(500, 1, {}, u).delay;
        EXPECT_GE(d, 4s);
        EXPECT_LE(d, 6s);
    }
}

TEST(RetryPolicy, StatusesOutsideHttpRangeCountAsNetwork) {
    EXPECT_EQ(outcome_label({101, ErrorKind::none, {}}), "network");
    EXPECT_EQ(outcome_label({0, ErrorKind::none, {}}), "network");
}

}  // namespace
}  // namespace sluice::outbox
