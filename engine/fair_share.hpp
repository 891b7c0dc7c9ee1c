// Which units of work (subscribers, parts of partitioned projections) this instance should take
// or let go, from one look at the shared state. Every instance runs the same rule, so the work
// spreads without talking: each takes at most its fair share, ceil(units / live instances); a
// unit left free for `take_rest_after` is taken by anyone (so work never waits on an instance
// that is not coming); an instance holding more than its share lets the surplus go; a unit
// whose owner stopped heart-beating for `failover_after` has the owner's session terminated.
// Pure (time is passed in). Error policy: none.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sluice::engine {

using Clock = std::chrono::steady_clock;

// One unit as the database shows it.
struct UnitView {
    std::string name;
    std::optional<int> holder_pid;               // backend holding its owner lock; none: free
    std::string owner_instance;                  // from sluice.owners; empty when no row
    std::optional<double> owner_silent_seconds;  // since the owner's last heartbeat
};

struct ShareInput {
    std::vector<UnitView> units;
    int live_instances = 1;       // including this one
    std::set<std::string> owned;  // what this instance holds now
    std::string instance;         // this instance's id
    int backend_pid = 0;          // this instance's coordination session
};

struct Decision {
    std::vector<std::string> acquire;  // try, in this order
    std::vector<std::string> release;  // owned, to let go (surplus or gone from the config)
    std::vector<std::string> lost;     // owned, but the database says otherwise
    std::vector<int> terminate;        // sessions of silent owners
    std::vector<std::string> silent;   // the units of those owners (for the log)
};

class FairShare {
  public:
    FairShare(std::chrono::milliseconds take_rest_after, std::chrono::milliseconds failover_after)
        : take_rest_after_(take_rest_after), failover_after_(failover_after) {}

    [[nodiscard]] Decision decide(const ShareInput& in, Clock::time_point now);

    // ceil(units / instances), at least 1 when there are units.
    [[nodiscard]] static std::size_t fair_share(std::size_t units, int instances);

  private:
    std::chrono::milliseconds take_rest_after_;
    std::chrono::milliseconds failover_after_;
    std::map<std::string, Clock::time_point> free_since_;
};

}  // namespace sluice::engine
