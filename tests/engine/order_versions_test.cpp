// order_versions_within_aggregates: within one batch each aggregate's events go out in version
// order, in the slots that aggregate occupies, so other aggregates' interleaving is unchanged.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/event_row.hpp"

namespace sluice::engine {
namespace {

// "A3 B1 A1" -> rows with ids 1, 2, 3 in that order.
std::vector<EventRow> rows(const std::vector<std::pair<std::string, int>>& events) {
    std::vector<EventRow> out;
    std::int64_t id = 0;
    for (const auto& [aggregate, version] : events) {
        EventRow r;
        r.position = {100, ++id};
        r.aggregate_id = aggregate;
        r.version = version;
        out.push_back(r);
    }
    return out;
}

std::string describe(const std::vector<EventRow>& rows) {
    std::string out;
    for (const auto& r : rows)
        out += (out.empty() ? "" : " ") + r.aggregate_id + std::to_string(r.version);
    return out;
}

TEST(OrderVersionsWithinAggregates, LeavesABatchInVersionOrderAsItIs) {
    auto batch = rows({{"A", 1}, {"B", 1}, {"A", 2}, {"B", 2}});
    order_versions_within_aggregates(batch);
    EXPECT_EQ(describe(batch), "A1 B1 A2 B2");
    EXPECT_EQ(batch[2].position.id, 3);
}

TEST(OrderVersionsWithinAggregates, SortsAnAggregatesVersionsInTheSlotsItOccupies) {
    auto batch = rows({{"A", 3}, {"B", 1}, {"A", 1}, {"B", 2}, {"A", 2}});
    order_versions_within_aggregates(batch);
    EXPECT_EQ(describe(batch), "A1 B1 A2 B2 A3");
}

TEST(OrderVersionsWithinAggregates, MovesEachEventWhole) {
    auto batch = rows({{"A", 2}, {"A", 1}});
    order_versions_within_aggregates(batch);
    ASSERT_EQ(describe(batch), "A1 A2");
    // The row, position included, moves: version 1 was inserted second (id 2).
    EXPECT_EQ(batch[0].position.id, 2);
    EXPECT_EQ(batch[1].position.id, 1);
}

TEST(OrderVersionsWithinAggregates, SortsEveryAggregateOutOfOrderIndependently) {
    auto batch = rows({{"B", 2}, {"A", 2}, {"B", 1}, {"C", 1}, {"A", 1}});
    order_versions_within_aggregates(batch);
    EXPECT_EQ(describe(batch), "B1 A1 B2 C1 A2");
}

TEST(OrderVersionsWithinAggregates, HandlesAnEmptyAndASingleRowBatch) {
    std::vector<EventRow> empty;
    order_versions_within_aggregates(empty);
    EXPECT_TRUE(empty.empty());
    auto one = rows({{"A", 7}});
    order_versions_within_aggregates(one);
    EXPECT_EQ(describe(one), "A7");
}

}  // namespace
}  // namespace sluice::engine
