// The fold's SQL text and fingerprint, without a database: what reaches the expressions, and
// which changes of a snapshots: entry invalidate its snapshots.
#include <gtest/gtest.h>

#include "projections/fold_function.hpp"
#include "projections/snapshot_sink.hpp"

namespace sluice::projections {
namespace {

config::Snapshot order_fold() {
    config::Snapshot s;
    s.aggregate_type = "Order";
    s.initial = "'{}'::jsonb";
    s.apply = {{"ItemAdded", ":state || jsonb_build_object('n', :payload->'n')", {}}};
    return s;
}

TEST(FoldFunction, ExpressionsSeeTheStateAndTheEventRowNeverSplicedValues) {
    EXPECT_EQ(embed_expression(":state || :payload"), "sluice_state || sluice_ev.\"payload\"");
    EXPECT_EQ(embed_expression("':state' || :version::text"),
              "':state' || sluice_ev.\"version\"::text");
    EXPECT_THROW((void)embed_expression(":tenant"), std::invalid_argument);
}

TEST(FoldFunction, FingerprintChangesWithTheFoldNotWithHowOftenSnapshotsAreTaken) {
    const auto base = order_fold();
    const auto fp = fold_fingerprint(base, "\"events\"");
    EXPECT_EQ(fp.size(), 32U);

    auto every = base;
    every.every = 7;
    every.keep = 9;
    EXPECT_EQ(fold_fingerprint(every, "\"events\""), fp);

    auto initial = base;
    initial.initial = "'{\"n\": 0}'::jsonb";
    EXPECT_NE(fold_fingerprint(initial, "\"events\""), fp);
    auto apply = base;
    apply.apply[0].sql += " || '{}'";
    EXPECT_NE(fold_fingerprint(apply, "\"events\""), fp);
    auto renamed = base;
    renamed.apply[0].event_type = "ItemAddedToOrder";
    EXPECT_NE(fold_fingerprint(renamed, "\"events\""), fp);
    EXPECT_NE(fold_fingerprint(base, "\"app\".\"events\""), fp);
}

TEST(FoldFunction, TypeNamesAreQuotedIdentifiersAndLiterals) {
    auto s = order_fold();
    s.aggregate_type = "Or\"der'; DROP";
    const auto f = fold_function(s, "\"events\"");
    EXPECT_NE(f.install_sql.find("sluice.\"fold_Or\"\"der'; DROP\"("), std::string::npos)
        << f.install_sql;
    EXPECT_NE(f.install_sql.find("e.aggregate_type = 'Or\"der''; DROP'"), std::string::npos)
        << f.install_sql;
}

TEST(SnapshotSubscriber, IsNamedAfterTheTypeAndPart) {
    EXPECT_EQ(snapshot_subscriber("Order"), "snapshots:Order");
    EXPECT_EQ(snapshot_subscriber("Order", {1, 4}), "snapshots:Order[2/4]");
}

}  // namespace
}  // namespace sluice::projections

namespace sluice::projections {
namespace {

config::Upcaster upcaster(std::string type, std::string payload, std::string rename = {}) {
    config::Upcaster u;
    u.event_type = std::move(type);
    u.payload = std::move(payload);
    u.rename_to = std::move(rename);
    return u;
}

TEST(FoldFunction, FingerprintChangesWithTheUpcastersOfTheTypesItAppliesOnly) {
    const auto fold = order_fold();  // applies ItemAdded
    const auto fp = fold_fingerprint(fold, "\"events\"");
    auto with = [&](std::vector<config::Upcaster> upcasters) {
        return fold_fingerprint(fold, "\"events\"", engine::Upcast(upcasters, "\"events\""));
    };
    // Upcasters of other types, and where an upcaster is written, change nothing.
    EXPECT_EQ(with({upcaster("OrderShipped", ":payload")}), fp);
    const auto item = with({upcaster("ItemAdded", ":payload || '{\"v\": 2}'")});
    EXPECT_NE(item, fp);
    auto moved = upcaster("ItemAdded", ":payload || '{\"v\": 2}'");
    moved.location = {"other.yaml", 40, 5};
    EXPECT_EQ(with({moved}), item);
    EXPECT_NE(with({upcaster("ItemAdded", ":payload || '{\"v\": 3}'")}), item);
    auto when = upcaster("ItemAdded", ":payload || '{\"v\": 2}'");
    when.when = ":version > 1";
    EXPECT_NE(with({when}), item);
    // A type renamed into one it applies, and what happens to it before the rename.
    const auto renamed = with({upcaster("ItemPut", ":payload", "ItemAdded")});
    EXPECT_NE(renamed, fp);
    EXPECT_NE(with({upcaster("ItemPut", "'{}'"), upcaster("ItemPut", ":payload", "ItemAdded")}),
              renamed);
    // ... but not what happens to the old name after it was renamed away from it.
    EXPECT_EQ(with({upcaster("ItemPut", ":payload", "ItemAdded"), upcaster("ItemPut", "'{}'")}),
              renamed);
}

TEST(Upcast, AConsumerReadsTheTypesRenamedIntoItsOwnAndCallsTheFunctionOnlyForUpcastTypes) {
    const engine::Upcast upcast({upcaster("V0", ":payload", "V1"), upcaster("V1", ":payload", "V2"),
                                 upcaster("Other", ":payload")},
                                "\"events\"");
    EXPECT_EQ(upcast.sources_of({"V2"}), (engine::TypeSet{"V0", "V1", "V2"}));
    EXPECT_EQ(upcast.sources_of({"V1"}), (engine::TypeSet{"V0", "V1"}));
    EXPECT_EQ(upcast.guard_types({"V2", "Plain"}), (engine::TypeSet{"V0", "V1"}));
    EXPECT_TRUE(upcast.plpgsql_step("r", {"Plain"}, "").empty());
    EXPECT_NE(upcast.call("e").find("e.\"payload\"::jsonb"), std::string::npos);
    EXPECT_EQ(upcast.function().rfind("sluice.\"upcast_", 0), 0U) << upcast.function();
    // Named by its text: another upcaster, another function.
    EXPECT_NE(engine::Upcast({upcaster("V0", "'{}'")}, "\"events\"").function(), upcast.function());
    EXPECT_TRUE(engine::Upcast().install_sql().empty());
}

}  // namespace
}  // namespace sluice::projections
