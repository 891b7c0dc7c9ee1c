// What the engine::Coordinator shares out for this daemon: the subscribers' units (projections,
// their parts, snapshots, webhook dispatchers: subscribers.hpp) and the rebuilds asked in
// sluice.rebuilds (`NAME@next`: rebuild/rebuild_work.hpp), as one engine::Work. A rebuild's unit
// name ends in "@next", which no subscriber's name can.
// Threading: event-loop thread only. Error policy: as the two it joins.
#pragma once

#include "daemon/rebuild/rebuild_work.hpp"
#include "daemon/subscribers.hpp"
#include "engine/coordinator.hpp"

namespace sluice::daemon {

class DaemonWork final : public engine::Work {
  public:
    DaemonWork(Subscribers& subscribers, RebuildWork& rebuilds)
        : subscribers_(subscribers), rebuilds_(rebuilds) {}

    [[nodiscard]] std::vector<std::string> units() const override;
    asio::awaitable<void> own(std::map<std::string, std::string> owned) override;
    [[nodiscard]] std::vector<std::string> handed_over() override;

  private:
    Subscribers& subscribers_;
    RebuildWork& rebuilds_;
};

}  // namespace sluice::daemon
