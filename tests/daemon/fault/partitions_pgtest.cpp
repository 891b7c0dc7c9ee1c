// A projection with `partitions: 4` run by three instances: every part orders[k/4] has its own
// checkpoint and owner, the parts spread (fair share ceil(4/3) = 2: more than one instance
// works, none holds more than two), they move to the survivors when their owner is killed and
// spread again when it is back, and the read model is exact — each order's events applied once
// and in version order, since one order's events all belong to one part.
#include <iostream>
#include <random>
#include <thread>

#include "fault_fixture.hpp"
#include "order_writer.hpp"

namespace sluice::testing::fault {
namespace {

constexpr int partitions = 4;

class Partitions : public FaultTest {
  protected:
    // Every part owned by a running instance, none holding more than `most`, and at least two
    // instances working.
    [[nodiscard]] std::string spread_problem(const std::vector<std::string>& parts,
                                             Instances& instances, std::size_t most) {
        std::string problem = ownership_problem(parts, instances, most);
        if (!problem.empty())
            return problem;
        std::set<int> pids;
        for (const auto& [name, o] : owners())
            pids.insert(o.pid);
        return pids.size() >= 2 ? "" : "only one instance owns parts";
    }

    // Each running instance's log agrees with sluice.owners about what it owns.
    [[nodiscard]] std::string log_problem(Instances& instances) {
        auto own = owners();
        std::string problem;
        for (auto slot : instances.live_slots()) {
            auto& d = instances.at(slot);
            std::set<std::string> expected;
            for (const auto& [name, o] : own) {
                if (o.pid == d.pid())
                    expected.insert(name);
            }
            if (owned_per_log(d.output()) != expected)
                problem += "instance " + std::to_string(slot) +
                           ": its took/released ownership lines disagree with sluice.owners; ";
        }
        return problem;
    }
};

TEST_F(Partitions, FourPartsSpreadOverThreeInstancesAndTheReadModelIsExact) {
    migrate();
    create_read_models();
    load_orders(10000);  // 100,000 events
    std::string config =
        write_config("projections:\n" + projection_yaml("orders", true, true, partitions));
    const auto parts = part_names("orders", partitions);
    Instances instances(config, 3);
    instances.start_all();
    OrderWriter writer(url_);
    const auto t0 = std::chrono::steady_clock::now();

    std::string problem;
    auto await_spread = [&](const std::string& when) {
        bool ok = wait_until(
            [&] {
                problem = spread_problem(parts, instances, 2);
                if (problem.empty())
                    problem = status_problem(instances);
                if (problem.empty())
                    problem = log_problem(instances);
                return problem.empty();
            },
            30s);
        EXPECT_TRUE(ok) << when << ": the parts did not spread within 30 s: " << problem << "\n"
                        << diagnose(instances);
        return ok;
    };
    ASSERT_TRUE(await_spread("three instances started together"));
    std::cerr << "[ fault ] parts spread at " << seconds_since(t0) << ":";
    for (const auto& [name, o] : owners())
        std::cerr << " " << name << "->" << o.pid;
    std::cerr << "\n";

    // The owner of the most parts dies: the two survivors (share 2) take its parts; back to
    // three, the parts spread again.
    std::map<int, int> count;
    for (const auto& [name, o] : owners())
        ++count[o.pid];
    int busiest = std::max_element(count.begin(), count.end(), [](auto& a, auto& b) {
                      return a.second < b.second;
                  })->first;
    auto victim = instances.slot_of(busiest);
    ASSERT_TRUE(victim);
    ASSERT_TRUE(instances.kill9(*victim));
    ASSERT_TRUE(wait_until(
        [&] {
            problem = ownership_problem(parts, instances, 2);
            return problem.empty();
        },
        10s))
        << "the killed instance's parts were not taken over within 10 s: " << problem << "\n"
        << diagnose(instances);
    std::cerr << "[ fault ] parts of the killed instance taken over at " << seconds_since(t0)
              << "\n";
    instances.start(*victim);
    ASSERT_TRUE(await_spread("after the restart"));

    writer.stop();
    ASSERT_TRUE(wait_all_at_head(parts, 120s)) << behind_head(parts) << "\n" << diagnose(instances);
    std::cerr << "[ fault ] every part at the head at " << seconds_since(t0) << "\n";
    expect_read_model_exact("partitioned over three instances");

    // One checkpoint per part and nothing under the plain name.
    auto cps = checkpoints();
    for (const auto& p : parts)
        EXPECT_TRUE(cps.count(p)) << "no checkpoint row for " << p;
    EXPECT_FALSE(cps.count("orders")) << "a partitioned projection must not have a plain "
                                         "checkpoint";
    EXPECT_EQ(spread_problem(parts, instances, 2), "") << diagnose(instances);
}

TEST_F(Partitions, KillsDuringAPartitionedCatchUpLoseNothingAndRepeatNothing) {
    migrate();
    create_read_models();
    load_orders(20000);  // 200,000 events
    const Position bulk_end = head();
    std::string config =
        write_config("projections:\n" + projection_yaml("orders", true, true, partitions));
    const auto parts = part_names("orders", partitions);
    Instances instances(config, 3);
    instances.start_all();
    OrderWriter writer(url_);
    auto seed = std::random_device{}();
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> jitter_ms(0, 40);
    std::cerr << "[ fault ] partitioned kill loop seed " << seed << "\n";
    const auto t0 = std::chrono::steady_clock::now();
    int during_catch_up = 0;
    constexpr int kills = 10;
    for (int round = 1; round <= kills; ++round) {
        // Kill k once the slowest part passed k / (kills + 1) of the bulk load (spread over the
        // catch-up whatever the machine's speed), at a random moment of a batch.
        const std::int64_t target = bulk_end.id * round / (kills + 1);
        ASSERT_TRUE(wait_until([&] { return slowest(parts).id >= target; }, 60s))
            << "the catch-up did not pass event " << target << " before kill " << round << "\n"
            << diagnose(instances);
        std::this_thread::sleep_for(std::chrono::milliseconds(jitter_ms(rng)));
        ASSERT_EQ(instances.live_slots().size(), 3u) << diagnose(instances);
        // The owner of a part still catching up (the slowest), so that the kill lands in a
        // catch-up even when the faster parts are already at the head.
        auto cps = checkpoints();
        std::string part = parts[rng() % parts.size()];
        std::optional<Position> slowest_at;
        for (const auto& p : parts) {
            auto c = cps.find(p);
            const Position at = c == cps.end() ? Position{} : c->second;
            if (at < bulk_end && (!slowest_at || at < *slowest_at)) {
                part = p;
                slowest_at = at;
            }
        }
        auto own = owners();
        std::optional<std::size_t> victim;
        if (auto it = own.find(part); it != own.end())
            victim = instances.slot_of(it->second.pid);
        if (!victim)
            victim = instances.live_slots()[rng() % 3];
        bool mid = false;
        for (const auto& [name, o] : own) {
            auto c = cps.find(name);
            if (o.pid == instances.at(*victim).pid() && (c == cps.end() || c->second < bulk_end))
                mid = true;
        }
        during_catch_up += mid ? 1 : 0;
        ASSERT_TRUE(instances.kill9(*victim)) << diagnose(instances);
        std::cerr << "[ fault ] kill " << round << "/" << kills << " at " << seconds_since(t0)
                  << (mid ? ", mid catch-up" : "") << "\n";
        instances.start(*victim);
    }
    EXPECT_GE(during_catch_up, kills * 3 / 4) << "too few kills hit the catch-up";
    writer.stop();
    ASSERT_TRUE(wait_all_at_head(parts, 60s)) << behind_head(parts) << "\n" << diagnose(instances);
    std::cerr << "[ fault ] every part at the head at " << seconds_since(t0) << "\n";
    expect_read_model_exact("partitioned, after " + std::to_string(kills) + " kills");
    std::string problem;
    EXPECT_TRUE(wait_until(
        [&] {
            problem = spread_problem(parts, instances, 2);
            return problem.empty();
        },
        20s))
        << problem;
}

}  // namespace
}  // namespace sluice::testing::fault
