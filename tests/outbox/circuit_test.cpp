#include "outbox/circuit.hpp"

#include <gtest/gtest.h>

namespace sluice::outbox {
namespace {

using namespace std::chrono_literals;
using Admission = Circuit::Admission;

const Circuit::Clock::time_point t0{std::chrono::hours(1)};

config::Circuit settings() {
    return {.failures = 3, .cool_down = 10s, .max_cool_down = 35s};
}

// A circuit that has just opened at t0 (three failures while closed).
Circuit opened() {
    Circuit c(settings());
    (void)c.record(false, false, t0);
    (void)c.record(false, false, t0);
    EXPECT_EQ(c.record(false, false, t0), CircuitState::open);
    return c;
}

TEST(Circuit, StaysClosedBelowTheConsecutiveFailureCount) {
    Circuit c(settings());
    EXPECT_EQ(c.record(false, false, t0), std::nullopt);
    EXPECT_EQ(c.record(false, false, t0), std::nullopt);
    EXPECT_EQ(c.record(true, false, t0), std::nullopt) << "a success resets the count";
    EXPECT_EQ(c.record(false, false, t0), std::nullopt);
    EXPECT_EQ(c.record(false, false, t0), std::nullopt);
    EXPECT_EQ(c.state(), CircuitState::closed);
    EXPECT_EQ(c.admit(t0), Admission::send);
}

TEST(Circuit, OpensAfterTheConsecutiveFailuresAndAdmitsNothingDuringTheCoolDown) {
    auto c = opened();
    EXPECT_EQ(c.reopens_at(), t0 + 10s);
    EXPECT_FALSE(c.may_send(t0 + 9999ms));
    EXPECT_EQ(c.admit(t0 + 9999ms), Admission::wait);
    EXPECT_EQ(c.state(), CircuitState::open);
}

TEST(Circuit, AfterTheCoolDownAdmitsExactlyOneProbe) {
    auto c = opened();
    EXPECT_TRUE(c.may_send(t0 + 10s));
    EXPECT_EQ(c.admit(t0 + 10s), Admission::probe);
    EXPECT_EQ(c.state(), CircuitState::half_open);
    EXPECT_FALSE(c.may_send(t0 + 11s));
    EXPECT_EQ(c.admit(t0 + 11s), Admission::wait) << "the probe is outstanding";
}

TEST(Circuit, ASuccessfulProbeClosesItAndTheCoolDownStartsOver) {
    auto c = opened();
    ASSERT_EQ(c.admit(t0 + 10s), Admission::probe);
    ASSERT_EQ(c.record(false, true, t0 + 11s), CircuitState::open);
    ASSERT_EQ(c.admit(t0 + 31s), Admission::probe);
    EXPECT_EQ(c.record(true, true, t0 + 31s), CircuitState::closed);
    EXPECT_EQ(c.admit(t0 + 31s), Admission::send);
    (void)c.record(false, false, t0 + 40s);
    (void)c.record(false, false, t0 + 40s);
    EXPECT_EQ(c.record(false, false, t0 + 40s), CircuitState::open);
    EXPECT_EQ(c.cool_down(), 10s) << "the base cool-down again, not the doubled one";
}

TEST(Circuit, EachFailedProbeDoublesTheCoolDownUpToTheCap) {
    auto c = opened();
    auto now = t0;
    for (auto expected : {20s, 35s, 35s}) {
        now = c.reopens_at();
        ASSERT_EQ(c.admit(now), Admission::probe);
        ASSERT_EQ(c.record(false, true, now + 1s), CircuitState::open);
        EXPECT_EQ(c.cool_down(), expected);
        EXPECT_EQ(c.reopens_at(), now + 1s + expected);
    }
}

TEST(Circuit, OutcomesOfRequestsSentBeforeItOpenedAreNotTheProbes) {
    auto c = opened();
    EXPECT_EQ(c.record(true, false, t0 + 1s), std::nullopt) << "a late success does not close it";
    EXPECT_EQ(c.record(false, false, t0 + 2s), std::nullopt);
    EXPECT_EQ(c.reopens_at(), t0 + 10s) << "a late failure does not extend the cool-down";
    ASSERT_EQ(c.admit(t0 + 10s), Admission::probe);
    EXPECT_EQ(c.record(false, false, t0 + 11s), std::nullopt);
    EXPECT_EQ(c.state(), CircuitState::half_open);
}

TEST(Circuit, ACancelledProbeLetsTheNextRequestProbe) {
    auto c = opened();
    ASSERT_EQ(c.admit(t0 + 10s), Admission::probe);
    c.cancel_probe();
    EXPECT_EQ(c.admit(t0 + 10s), Admission::probe);
}

TEST(Circuit, NamesItsStatesForMetricsAndLogs) {
    EXPECT_EQ(circuit_state_name(CircuitState::closed), "closed");
    EXPECT_EQ(circuit_state_name(CircuitState::open), "open");
    EXPECT_EQ(circuit_state_name(CircuitState::half_open), "half_open");
}

}  // namespace
}  // namespace sluice::outbox
