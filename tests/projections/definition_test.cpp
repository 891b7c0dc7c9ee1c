// projections::definition_of and changed_parts: the fingerprint follows what decides the read
// model's content and nothing else, and a change is named by its parts.
#include "projections/definition.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sluice::projections {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

config::Projection orders() {
    config::Projection p;
    p.name = "orders";
    p.setup = "CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY)";
    p.handlers = {{"OrderPlaced", "INSERT INTO orders VALUES (:aggregate_id)", {"a.yaml", 7, 20}},
                  {"OrderCancelled", "DELETE FROM orders WHERE id = :aggregate_id", {}}};
    return p;
}

TEST(Definition, IsStableAndIgnoresOperationalSettingsAndLocations) {
    const auto base = definition_of(orders());
    EXPECT_EQ(base.fingerprint.size(), 16u);
    EXPECT_EQ(definition_of(orders()).fingerprint, base.fingerprint);
    auto p = orders();
    p.on_error.retries = 0;
    p.on_error.then = config::OnError::Then::park;
    p.reset = "TRUNCATE orders";
    p.verify = "SELECT true";
    p.grants = {"reader"};
    p.on_change = config::Projection::OnChange::rebuild;
    p.location = {"b.yaml", 3, 5};
    p.handlers[0].location = {"b.yaml", 9, 9};
    std::swap(p.handlers[0], p.handlers[1]);  // order in the file
    EXPECT_EQ(definition_of(p).fingerprint, base.fingerprint);
    EXPECT_THAT(changed_parts(base.fingerprint, base.parts, definition_of(p)), IsEmpty());
}

TEST(Definition, NamesEachPartThatChanged) {
    const auto base = definition_of(orders());
    auto p = orders();
    p.handlers[1].sql = "UPDATE orders SET cancelled = true WHERE id = :aggregate_id";
    EXPECT_THAT(changed_parts(base.fingerprint, base.parts, definition_of(p)),
                ElementsAre("handlers"));
    p.partitions = 4;
    p.aggregate_types = {"Order"};
    EXPECT_THAT(changed_parts(base.fingerprint, base.parts, definition_of(p)),
                ElementsAre("handlers", "filters", "partitions"));
    auto q = orders();
    q.setup += "; CREATE INDEX ON orders (id)";
    q.schema = "orders_read";
    EXPECT_THAT(changed_parts(base.fingerprint, base.parts, definition_of(q)),
                ElementsAre("setup", "schema"));
    auto r = orders();
    r.handlers.push_back({"OrderShipped", "SELECT 1", {}});
    EXPECT_NE(definition_of(r).fingerprint, base.fingerprint) << "a handler added";
}

TEST(Definition, CountsUnreadableStoredPartsAsChanged) {
    const auto current = definition_of(orders());
    EXPECT_THAT(changed_parts("0000000000000000", "not json", current),
                ElementsAre("setup", "handlers", "filters", "partitions", "schema"));
    EXPECT_THAT(changed_parts("0000000000000000", current.parts, current),
                ElementsAre("definition"));
}

}  // namespace
}  // namespace sluice::projections
