// What a reload compares to decide which units restart when the upcasters change: only the units
// that see the types concerned (a handler, a fold's apply, a webhook's event_types, or every type
// for a webhook without them) get another definition.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "daemon/units.hpp"

namespace sluice::daemon {
namespace {

const std::string base = R"(
database: {url: postgresql:///unused}
projections:
  - name: orders
    handlers: {OrderCreated: SELECT 1}
  - name: shipping_list
    handlers: {OrderShipped: SELECT 1}
snapshots:
  - aggregate_type: Order
    initial: "'{}'::jsonb"
    apply: {OrderShipped: ":state"}
webhooks:
  - name: created
    url: http://127.0.0.1:9/x
    secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]
    event_types: [OrderCreated]
  - name: everything
    url: http://127.0.0.1:9/y
    secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]
)";

std::map<std::string, Unit> units_with(const std::string& upcasters) {
    auto loaded = config::load_string(base + upcasters, "units.yaml", {});
    EXPECT_TRUE(loaded.config) << (loaded.errors.empty() ? "" : config::format(loaded.errors[0]));
    return units_of(*loaded.config);
}

TEST(Units, ChangedUpcastersChangeOnlyTheUnitsThatSeeTheirTypes) {
    const auto none = units_with("");
    const auto one =
        units_with("upcasters:\n  - event_type: OrderPlaced\n    rename_to: OrderCreated\n");
    const auto changed = units_with(
        "upcasters:\n  - event_type: OrderPlaced\n    when: :version > 0\n"
        "    rename_to: OrderCreated\n");
    for (const auto& units : {one, changed}) {
        EXPECT_NE(units.at("orders").upcasters, none.at("orders").upcasters);
        EXPECT_NE(units.at("created").upcasters, none.at("created").upcasters);
        EXPECT_NE(units.at("everything").upcasters, none.at("everything").upcasters);
        EXPECT_EQ(units.at("shipping_list").upcasters, none.at("shipping_list").upcasters);
        EXPECT_EQ(units.at("snapshots:Order").upcasters, none.at("snapshots:Order").upcasters);
    }
    EXPECT_NE(one.at("orders").upcasters, changed.at("orders").upcasters);
}

}  // namespace
}  // namespace sluice::daemon
