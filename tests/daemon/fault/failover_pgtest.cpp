// Three instances share two projections and a webhook dispatcher (failover_after 3s). Killing a
// unit's owner (kill -9) frees its locks at once: another live instance must own the unit
// within failover_after and carry on from the checkpoint; once the killed instance is back the
// units spread one per instance again. A frozen owner (SIGSTOP: its sessions stay open, its
// heartbeat stops) must lose its units within failover_after plus a tick, and when it wakes up
// it must not write again (every batch is fenced by the owners row). Throughout, a writer
// appends and the read models show every event applied exactly once.
#include <csignal>
#include <iostream>

#include "fault_fixture.hpp"
#include "order_writer.hpp"

namespace sluice::testing::fault {
namespace {

constexpr auto failover_after = 3s;
constexpr auto margin = 2s;  // ticks, process scheduling on a busy 2-core machine
const std::vector<std::string> units = {"applied", "per_order", "shipped"};

class Failover : public FaultTest {
  protected:
    std::string standard_config(const HttpReceiver& receiver) {
        return write_config("projections:\n" + projection_yaml("applied", true, false) +
                                projection_yaml("per_order", false, true) + "webhooks:\n" +
                                webhook_yaml("shipped", receiver.url()),
                            "3s");
    }

    // Waits until `unit` is owned by a running instance other than `old_pid`; returns its slot.
    std::optional<std::size_t> wait_new_owner(const std::string& unit, int old_pid,
                                              Instances& instances,
                                              std::chrono::milliseconds timeout) {
        std::optional<std::size_t> slot;
        (void)wait_until(
            [&] {
                auto own = owners();
                auto it = own.find(unit);
                if (it == own.end() || it->second.pid == old_pid)
                    return false;
                slot = instances.slot_of(it->second.pid);
                return slot.has_value();
            },
            timeout);
        return slot;
    }

    // Events keep flowing: the unit's checkpoint reaches the head as it is now.
    [[nodiscard]] bool wait_flowing(const std::string& unit, std::chrono::milliseconds timeout) {
        Position target = head();
        return wait_until(
            [&] {
                auto cps = checkpoints();
                auto it = cps.find(unit);
                return it != cps.end() && it->second >= target;
            },
            timeout);
    }

    [[nodiscard]] static bool logged_took(DaemonProcess& d, const std::string& unit) {
        for (const auto& c : ownership_changes(d.output())) {
            if (c.took && c.name == unit)
                return true;
        }
        return false;
    }
};

TEST_F(Failover, AnotherInstanceTakesOverAKilledOwnersUnitWithinFailoverAfter) {
    migrate();
    create_read_models();
    load_orders(5000);  // 50,000 events: a short catch-up, then live traffic
    HttpReceiver receiver({.secrets = {webhook_secret}});
    Instances instances(standard_config(receiver), 3);
    instances.start_all();
    OrderWriter writer(url_);
    const auto t0 = std::chrono::steady_clock::now();

    std::string problem;
    ASSERT_TRUE(wait_until(
        [&] {
            problem = ownership_problem(units, instances, 1);
            return problem.empty();
        },
        30s))
        << "three instances and three units: one each within 30 s; " << problem << "\n"
        << diagnose(instances);
    std::cerr << "[ fault ] one unit per instance at " << seconds_since(t0) << "\n";

    std::chrono::milliseconds slowest{0};
    for (int round = 1; round <= 6; ++round) {
        const std::string& unit = units[(round - 1) % units.size()];
        auto own = owners();
        ASSERT_TRUE(own.count(unit)) << unit << " has no owner\n" << diagnose(instances);
        const int old_pid = own[unit].pid;
        auto victim = instances.slot_of(old_pid);
        ASSERT_TRUE(victim) << unit << " is owned by pid " << old_pid
                            << ", not a running instance\n"
                            << diagnose(instances);

        ASSERT_TRUE(instances.kill9(*victim));
        auto killed_at = std::chrono::steady_clock::now();
        EXPECT_EQ(checkpoint_consistency_problem(), "") << "after kill " << round;
        auto heir = wait_new_owner(unit, old_pid, instances, failover_after + margin);
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - killed_at);
        ASSERT_TRUE(heir) << "round " << round << ": no live instance owns " << unit << " "
                          << (failover_after + margin).count() << " s after its owner (pid "
                          << old_pid << ") was killed\n"
                          << diagnose(instances);
        slowest = std::max(slowest, took);
        EXPECT_TRUE(wait_until([&] { return logged_took(instances.at(*heir), unit); }, 2s))
            << "instance " << *heir << " owns " << unit
            << " but did not log msg=\"took ownership\" name=" << unit << "\n"
            << instances.at(*heir).output_tail();
        ASSERT_TRUE(wait_flowing(unit, 20s))
            << "round " << round << ": " << unit << " taken over but not moving\n"
            << diagnose(instances);
        std::cerr << "[ fault ] round " << round << ": " << unit << " moved from pid " << old_pid
                  << " to instance " << *heir << " in " << took.count() << " ms\n";

        // Back to three: the units spread one per instance again (surplus let go).
        instances.start(*victim);
        ASSERT_TRUE(wait_until(
            [&] {
                problem = ownership_problem(units, instances, 1);
                return problem.empty();
            },
            20s))
            << "round " << round << ": not one unit per instance 20 s after the restart; "
            << problem << "\n"
            << diagnose(instances);
    }
    EXPECT_LE(slowest, failover_after + margin);
    std::cerr << "[ fault ] slowest takeover " << slowest.count() << " ms\n";

    std::string status;
    EXPECT_TRUE(wait_until(
        [&] {
            status = status_problem(instances);
            return status.empty();
        },
        10s))
        << status;
    writer.stop();
    ASSERT_TRUE(wait_all_at_head(units, 60s)) << behind_head(units) << "\n" << diagnose(instances);
    expect_read_model_exact("after six failovers");
    for (const auto& [name, o] : owners())
        EXPECT_LT(o.heartbeat_age_seconds, 3.0) << name << ": its owner's heartbeat is stale";
    // The dispatcher is exact too: one outbox row per OrderShipped event. (Delivery of rows a
    // killed instance had leased waits for their lease; the kill loop checks delivery.)
    expect_one_outbox_row_per_event("shipped");
    EXPECT_GT(receiver.count(), 0u);
    std::cerr << "[ fault ] done at " << seconds_since(t0) << "\n";
}

TEST_F(Failover, AFrozenOwnerLosesItsUnitsWithinFailoverAfterAndNeverWritesAgain) {
    migrate();
    create_read_models();
    load_orders(2000);
    HttpReceiver receiver({.secrets = {webhook_secret}});
    Instances instances(standard_config(receiver), 2);
    instances.start_all();
    OrderWriter writer(url_, 10ms);
    const auto t0 = std::chrono::steady_clock::now();

    std::string problem;
    ASSERT_TRUE(wait_until(
        [&] {
            problem = ownership_problem(units, instances, 2);
            return problem.empty() && owners().at("applied").pid > 0;
        },
        30s))
        << problem << "\n"
        << diagnose(instances);
    ASSERT_TRUE(wait_flowing("applied", 30s)) << diagnose(instances);

    // Freeze the owner of `applied` mid-traffic: its connections stay open, its heartbeat stops.
    const int old_pid = owners().at("applied").pid;
    auto victim = instances.slot_of(old_pid);
    ASSERT_TRUE(victim);
    std::vector<std::string> frozen_units;
    for (const auto& [name, o] : owners()) {
        if (o.pid == old_pid)
            frozen_units.push_back(name);
    }
    ::kill(old_pid, SIGSTOP);
    auto frozen_at = std::chrono::steady_clock::now();
    // Silent for failover_after, then its sessions are ended and its units taken: allow one
    // more failover_after for ticks and scheduling.
    bool taken = wait_until(
        [&] {
            auto own = owners();
            for (const auto& u : frozen_units) {
                auto it = own.find(u);
                if (it == own.end() || it->second.pid == old_pid)
                    return false;
            }
            return true;
        },
        2 * failover_after + margin);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - frozen_at);
    if (!taken)
        ::kill(old_pid, SIGCONT);  // let its log be read
    ASSERT_TRUE(taken) << "a frozen owner still owns its units "
                       << std::chrono::duration_cast<std::chrono::seconds>(took).count()
                       << " s later\n"
                       << diagnose(instances);
    std::cerr << "[ fault ] units of the frozen instance taken over in " << took.count() << " ms\n";
    // Its last heartbeat may precede the freeze by a tick, hence the half.
    EXPECT_GE(took, failover_after / 2) << "taken over long before the owner was silent for "
                                           "failover_after: a live owner would be robbed";
    for (const auto& u : frozen_units)
        ASSERT_TRUE(wait_flowing(u, 20s)) << u << " not moving after the takeover\n"
                                          << diagnose(instances);

    // Wake it up: whatever batch it had in flight must fail its ownership check, and it must
    // come to terms with what it owns now (its /status agrees with sluice.owners).
    ::kill(old_pid, SIGCONT);
    for (const auto& u : frozen_units)
        ASSERT_TRUE(wait_flowing(u, 20s)) << diagnose(instances);
    std::string status;
    EXPECT_TRUE(wait_until(
        [&] {
            status = status_problem(instances);
            return status.empty();
        },
        20s))
        << status << "\n"
        << diagnose(instances);
    EXPECT_TRUE(wait_until(
        [&] {
            problem = ownership_problem(units, instances, 2);
            return problem.empty();
        },
        20s))
        << problem;
    writer.stop();
    ASSERT_TRUE(wait_all_at_head(units, 60s)) << behind_head(units) << "\n" << diagnose(instances);
    expect_read_model_exact("after a frozen owner woke up");
    expect_one_outbox_row_per_event("shipped");
    EXPECT_EQ(instances.live_slots().size(), 2u) << diagnose(instances);
    std::cerr << "[ fault ] done at " << seconds_since(t0) << "\n";
}

TEST_F(Failover, AStoppedInstanceReleasesItsUnitsAndTheOtherTakesThemAtOnce) {
    migrate();
    create_read_models();
    load_orders(2000);
    HttpReceiver receiver({.secrets = {webhook_secret}});
    Instances instances(standard_config(receiver), 2);
    instances.start_all();
    OrderWriter writer(url_);

    std::string problem;
    ASSERT_TRUE(wait_until(
        [&] {
            problem = ownership_problem(units, instances, 2);
            return problem.empty();
        },
        30s))
        << problem << "\n"
        << diagnose(instances);
    // SIGTERM the instance that owns `applied`: it drains, lets its units go (logging each) and
    // exits 0; the other instance, now alone (share 3), owns everything well before
    // failover_after, since nothing has to time out.
    const int old_pid = owners().at("applied").pid;
    auto leaving = instances.slot_of(old_pid);
    ASSERT_TRUE(leaving);
    std::vector<std::string> its_units;
    for (const auto& [name, o] : owners()) {
        if (o.pid == old_pid)
            its_units.push_back(name);
    }
    auto stopped_at = std::chrono::steady_clock::now();
    auto exit = instances.at(*leaving).terminate(10s);
    EXPECT_TRUE(exit.is_exit(0)) << exit.describe() << "\n" << instances.at(*leaving).output_tail();
    auto released = ownership_changes(instances.at(*leaving).output());
    for (const auto& u : its_units) {
        bool logged = false;
        for (const auto& c : released)
            logged = logged || (!c.took && c.name == u);
        EXPECT_TRUE(logged) << "a stopping instance did not log msg=\"released ownership\" name="
                            << u << "\n"
                            << instances.at(*leaving).output_tail();
    }
    ASSERT_TRUE(wait_until(
        [&] {
            problem = ownership_problem(units, instances, units.size());
            return problem.empty();
        },
        failover_after))
        << "the remaining instance does not own every unit " << seconds_since(stopped_at)
        << " after the other stopped: " << problem << "\n"
        << diagnose(instances);
    std::cerr << "[ fault ] units handed over " << seconds_since(stopped_at) << " after SIGTERM\n";
    for (const auto& u : its_units)
        ASSERT_TRUE(wait_flowing(u, 20s)) << diagnose(instances);
    writer.stop();
    ASSERT_TRUE(wait_all_at_head(units, 60s)) << behind_head(units) << "\n" << diagnose(instances);
    expect_read_model_exact("after a graceful hand-over");
}

}  // namespace
}  // namespace sluice::testing::fault
