#include "projections/partition.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace sluice::projections {
namespace {

std::string random_uuid(std::mt19937_64& rng) {
    static const char* hex = "0123456789abcdef";
    std::string s = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx";
    for (char& c : s) {
        if (c == 'x')
            c = hex[rng() % 16];
    }
    return s;
}

TEST(Partition, NamesPartsOneBasedAndLeavesAnUnpartitionedNameAlone) {
    EXPECT_EQ(part_name("orders", {}), "orders");
    EXPECT_EQ(part_name("orders", {0, 4}), "orders[1/4]");
    EXPECT_EQ(part_name("orders", {3, 4}), "orders[4/4]");
}

TEST(Partition, PutsEveryAggregateInOnePartWithinRange) {
    std::mt19937_64 rng(7);
    for (int i = 0; i < 1000; ++i) {
        auto id = random_uuid(rng);
        int p = part_of(id, 4);
        EXPECT_GE(p, 0);
        EXPECT_LT(p, 4);
        EXPECT_EQ(part_of(id, 4), p) << "the same id must always land in the same part";
        EXPECT_EQ(part_of(id, 1), 0);
    }
}

TEST(Partition, SpreadsRandomAggregatesEvenly) {
    std::mt19937_64 rng(11);
    std::map<int, int> counts;
    for (int i = 0; i < 40000; ++i)
        ++counts[part_of(random_uuid(rng), 4)];
    ASSERT_EQ(counts.size(), 4U);
    for (const auto& [part, n] : counts) {
        EXPECT_NEAR(n, 10000, 600) << "part " << part;
    }
}

TEST(Partition, HashIsPinnedToTheMd5OfTheIdText) {
    // md5("0b0e8f5e-8a43-4c1c-9a0e-3a5b1b2c3d4e") starts with bytes whose 32-bit value is
    // 1 modulo 4 (checked with md5sum); pinned so the split never changes between versions.
    EXPECT_EQ(part_of("0b0e8f5e-8a43-4c1c-9a0e-3a5b1b2c3d4e", 4), 1);
    EXPECT_EQ(part_condition("e.aggregate_id", {}), "TRUE");
    // sluice.event_part holds the SQL form (store/migrations.cpp); partition_pgtest checks that
    // it agrees with part_of.
    EXPECT_EQ(part_condition("e.aggregate_id", {2, 4}), "sluice.event_part(e.aggregate_id, 4) = 2");
}

}  // namespace
}  // namespace sluice::projections
