// What the tailer reads of each event: its position in commit order and what subscribers filter
// and order by. Payloads stay in the database: handlers read them server-side by id.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

namespace sluice::engine {

// A point in commit order: (transaction_id, id). The zero position precedes every event.
struct Position {
    std::uint64_t transaction_id = 0;
    std::int64_t id = 0;

    auto operator<=>(const Position&) const = default;
    [[nodiscard]] std::string to_string() const {
        return "(" + std::to_string(transaction_id) + "," + std::to_string(id) + ")";
    }
};

struct EventRow {
    Position position;
    std::string aggregate_id;
    std::string aggregate_type;
    int version = 0;
    std::string event_type;
    double timestamp = 0;  // Unix seconds (0 when the row has no timestamp)
};

// Within a batch, hands each aggregate's events over in version order, keeping the slots the
// aggregate occupies (so the interleaving of different aggregates is unchanged). Rows arrive in
// commit order, which already orders versions across transactions; this fixes the order of one
// transaction that inserted an aggregate's versions out of order.
void order_versions_within_aggregates(std::vector<EventRow>& rows);

}  // namespace sluice::engine
