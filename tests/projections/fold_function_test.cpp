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
