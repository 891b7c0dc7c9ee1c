#include "store/coordination.hpp"

namespace sluice::store {

std::optional<Coordination> coordination_of(const pg::ServerError& e) {
    const std::string& s = e.sqlstate();
    if (s == checkpoint_moved_sqlstate)
        return Coordination::checkpoint_moved;
    if (s == subscriber_busy_sqlstate)
        return Coordination::subscriber_busy;
    if (s == owner_lost_sqlstate)
        return Coordination::owner_lost;
    return std::nullopt;
}

}  // namespace sluice::store
