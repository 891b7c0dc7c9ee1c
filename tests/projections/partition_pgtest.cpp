// The SQL form of the partition split (sluice.event_part, used by the server-side catch-up and
// the part index) and the C++ form (used by the batch path) must put every aggregate in the same
// part, or events would be skipped.
#include <gtest/gtest.h>

#include <ranges>

#include "infra/pg/literal.hpp"
#include "projections/partition.hpp"
#include "test_database.hpp"

namespace sluice::projections {
namespace {

TEST(PartitionInSql, AgreesWithTheBatchPathForEveryAggregate) {
    auto db = testing::TestDatabase::create();
    db.migrate();
    auto conn = db.connect();
    auto ids = conn.exec("SELECT gen_random_uuid()::text FROM generate_series(1, 2000)");
    for (int parts : {2, 3, 4, 7}) {
        for (int part = 0; part < parts; ++part) {
            auto r = conn.exec(
                "SELECT id FROM (SELECT gen_random_uuid() AS g) x, "
                "unnest($1::uuid[]) AS id WHERE " +
                    part_condition("id", {part, parts}),
                pg::Params(pg::text_array(std::views::iota(0, ids.rows()),
                                          [&](int i) { return ids.text(i, 0); })));
            int expected = 0;
            for (int i = 0; i < ids.rows(); ++i)
                expected += part_of(ids.text(i, 0), parts) == part;
            ASSERT_EQ(r.rows(), expected) << "part " << part << " of " << parts;
            for (int i = 0; i < r.rows(); ++i) {
                EXPECT_EQ(part_of(r.text(i, 0), parts), part) << r.text(i, 0);
            }
        }
    }
}

}  // namespace
}  // namespace sluice::projections
