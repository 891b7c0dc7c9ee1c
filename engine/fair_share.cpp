#include "engine/fair_share.hpp"

#include <algorithm>

namespace sluice::engine {

std::size_t FairShare::fair_share(std::size_t units, int instances) {
    auto n = static_cast<std::size_t>(std::max(1, instances));
    return (units + n - 1) / n;
}

Decision FairShare::decide(const ShareInput& in, Clock::time_point now) {
    Decision d;
    std::set<std::string> listed;
    std::vector<const UnitView*> free;
    for (const UnitView& u : in.units) {
        listed.insert(u.name);
        bool mine = in.owned.contains(u.name);
        if (mine && (u.holder_pid != in.backend_pid || u.owner_instance != in.instance)) {
            d.lost.push_back(u.name);  // lock or row gone: someone else may have it now
            continue;
        }
        if (!u.holder_pid) {
            free_since_.try_emplace(u.name, now);
            free.push_back(&u);
            continue;
        }
        free_since_.erase(u.name);
        if (!mine && u.holder_pid == in.backend_pid) {
            d.release.push_back(u.name);  // a lock this session holds without running the unit
            continue;
        }
        bool silent = u.owner_silent_seconds && *u.owner_silent_seconds * 1000.0 >
                                                    static_cast<double>(failover_after_.count());
        if (!mine && silent && u.owner_instance != in.instance) {
            d.terminate.push_back(*u.holder_pid);
            d.silent.push_back(u.name);
        }
    }
    std::erase_if(free_since_, [&](const auto& kv) { return !listed.contains(kv.first); });

    std::vector<std::string> kept;
    for (const auto& name : in.owned) {
        if (!listed.contains(name)) {
            d.release.push_back(name);  // no longer in the config
        } else if (std::find(d.lost.begin(), d.lost.end(), name) == d.lost.end()) {
            kept.push_back(name);
        }
    }
    std::size_t share = fair_share(in.units.size(), in.live_instances);
    // Let the surplus go, last names first, so that the same units stay put across instances.
    bool over_share = kept.size() > share;
    while (kept.size() > share) {
        d.release.push_back(kept.back());
        kept.pop_back();
    }
    std::size_t keep = kept.size();
    for (const UnitView* u : free) {
        bool within_share = keep < share;
        // Free for long: nobody within their share wants it. An instance that is letting its
        // surplus go this round does not take it back.
        bool long_free = now - free_since_[u->name] >= take_rest_after_ && !over_share;
        if (within_share || long_free) {
            d.acquire.push_back(u->name);
            ++keep;
        }
    }
    return d;
}

}  // namespace sluice::engine
