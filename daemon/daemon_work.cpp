#include "daemon/daemon_work.hpp"

#include "store/rebuilds.hpp"

namespace sluice::daemon {

std::vector<std::string> DaemonWork::units() const {
    auto out = subscribers_.units();
    for (auto& unit : rebuilds_.units())
        out.push_back(std::move(unit));
    return out;
}

asio::awaitable<void> DaemonWork::own(std::map<std::string, std::string> owned) {
    std::map<std::string, std::string> rebuilds;
    for (auto it = owned.begin(); it != owned.end();) {
        if (it->first.ends_with(store::rebuild_unit_suffix)) {
            rebuilds.insert(*it);
            it = owned.erase(it);
        } else {
            ++it;
        }
    }
    co_await subscribers_.own(std::move(owned));
    co_await rebuilds_.own(std::move(rebuilds));
}

std::vector<std::string> DaemonWork::handed_over() {
    auto out = subscribers_.handed_over();
    for (auto& unit : rebuilds_.handed_over())
        out.push_back(std::move(unit));
    return out;
}

}  // namespace sluice::daemon
