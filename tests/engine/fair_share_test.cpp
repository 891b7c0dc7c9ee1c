#include "engine/fair_share.hpp"

#include <gtest/gtest.h>

namespace sluice::engine {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr int me = 100;  // this instance's backend pid
constexpr int other = 200;

UnitView free_unit(std::string name) {
    return {std::move(name), std::nullopt, "", std::nullopt};
}
UnitView mine(std::string name) {
    return {std::move(name), me, "i1", 0.5};
}
UnitView theirs(std::string name, double silent = 0.5) {
    return {std::move(name), other, "i2", silent};
}

ShareInput input(std::vector<UnitView> units, int live, std::set<std::string> owned) {
    ShareInput in;
    in.units = std::move(units);
    in.live_instances = live;
    in.owned = std::move(owned);
    in.instance = "i1";
    in.backend_pid = me;
    return in;
}

TEST(FairShare, IsTheCeilingOfUnitsPerInstance) {
    EXPECT_EQ(FairShare::fair_share(5, 1), 5U);
    EXPECT_EQ(FairShare::fair_share(5, 2), 3U);
    EXPECT_EQ(FairShare::fair_share(4, 3), 2U);
    EXPECT_EQ(FairShare::fair_share(1, 3), 1U);
    EXPECT_EQ(FairShare::fair_share(0, 3), 0U);
    EXPECT_EQ(FairShare::fair_share(3, 0), 3U);
}

TEST(FairShare, AloneTakesEveryFreeUnitAtOnce) {
    FairShare share(2500ms, 10000ms);
    auto d =
        share.decide(input({free_unit("a"), free_unit("b"), free_unit("c")}, 1, {}), Clock::now());
    EXPECT_EQ(d.acquire, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(d.release.empty());
}

TEST(FairShare, WithOthersUpTakesOnlyItsShareThenTheRestAfterTheDelay) {
    FairShare share(2500ms, 10000ms);
    auto t0 = Clock::now();
    auto units =
        std::vector<UnitView>{free_unit("a"), free_unit("b"), free_unit("c"), free_unit("d")};
    auto d = share.decide(input(units, 2, {}), t0);
    EXPECT_EQ(d.acquire, (std::vector<std::string>{"a", "b"}));
    // Nobody took c and d meanwhile (the other instance is busy or gone): take them too.
    auto later = share.decide(
        input({mine("a"), mine("b"), free_unit("c"), free_unit("d")}, 2, {"a", "b"}), t0 + 2600ms);
    EXPECT_EQ(later.acquire, (std::vector<std::string>{"c", "d"}));
}

TEST(FairShare, DoesNotTakeBeyondItsShareBeforeTheDelay) {
    FairShare share(2500ms, 10000ms);
    auto t0 = Clock::now();
    (void)share.decide(input({mine("a"), free_unit("b")}, 2, {"a"}), t0);
    auto d = share.decide(input({mine("a"), free_unit("b")}, 2, {"a"}), t0 + 1000ms);
    EXPECT_TRUE(d.acquire.empty());
}

TEST(FairShare, LetsTheSurplusGoWhenAnotherInstanceJoins) {
    FairShare share(2500ms, 10000ms);
    auto d = share.decide(
        input({mine("a"), mine("b"), mine("c"), mine("d")}, 2, {"a", "b", "c", "d"}), Clock::now());
    EXPECT_EQ(d.release, (std::vector<std::string>{"d", "c"}));
    EXPECT_TRUE(d.acquire.empty());
}

TEST(FairShare, DoesNotTakeBackWhatItLetsGoInTheSameRound) {
    FairShare share(2500ms, 10000ms);
    auto t0 = Clock::now();
    (void)share.decide(input({mine("a"), mine("b"), mine("c"), free_unit("d")}, 2, {"a", "b", "c"}),
                       t0);
    auto d = share.decide(
        input({mine("a"), mine("b"), mine("c"), free_unit("d")}, 3, {"a", "b", "c"}), t0 + 5000ms);
    EXPECT_EQ(d.release, (std::vector<std::string>{"c"}));
    EXPECT_TRUE(d.acquire.empty());
}

TEST(FairShare, ReportsAUnitWhoseLockOrRowIsNoLongerItsOwnAsLost) {
    FairShare share(2500ms, 10000ms);
    auto d =
        share.decide(input({theirs("a"), {"b", me, "i2", 0.1}, free_unit("c")}, 2, {"a", "b", "c"}),
                     Clock::now());
    EXPECT_EQ(d.lost, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(FairShare, ReleasesUnitsNoLongerInTheConfig) {
    FairShare share(2500ms, 10000ms);
    auto d = share.decide(input({mine("a")}, 1, {"a", "gone"}), Clock::now());
    EXPECT_EQ(d.release, (std::vector<std::string>{"gone"}));
}

TEST(FairShare, ReleasesALockItHoldsWithoutRunningTheUnit) {
    FairShare share(2500ms, 10000ms);
    auto d = share.decide(input({{"a", me, "", std::nullopt}}, 1, {}), Clock::now());
    EXPECT_EQ(d.release, (std::vector<std::string>{"a"}));
    EXPECT_TRUE(d.acquire.empty());
}

TEST(FairShare, EndsTheSessionOfAnOwnerSilentLongerThanFailoverAfter) {
    FairShare share(2500ms, 10000ms);
    auto d = share.decide(input({theirs("a", 10.5), theirs("b", 9.0)}, 2, {}), Clock::now());
    EXPECT_EQ(d.terminate, (std::vector<int>{other}));
    EXPECT_EQ(d.silent, (std::vector<std::string>{"a"}));
    EXPECT_TRUE(d.acquire.empty());
}

}  // namespace
}  // namespace sluice::engine
