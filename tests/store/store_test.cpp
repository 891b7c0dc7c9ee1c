// The pure parts of the store: input validation, the migration list, the coordination outcomes
// and the conflict message. No database.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/coordination.hpp"
#include "store/event.hpp"
#include "store/migrations.hpp"

namespace sluice::store {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(IsUuid, AcceptsCanonicalUuidsInEitherCase) {
    EXPECT_TRUE(is_uuid("6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77"));
    EXPECT_TRUE(is_uuid("6F1C2A52-3A7E-4C1E-9D3B-0C2F5B1A9E77"));
}

TEST(IsUuid, RejectsAnythingElse) {
    EXPECT_FALSE(is_uuid(""));
    EXPECT_FALSE(is_uuid("order-42"));
    EXPECT_FALSE(is_uuid("6f1c2a523a7e4c1e9d3b0c2f5b1a9e77"));
    EXPECT_FALSE(is_uuid("6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e7"));
    EXPECT_FALSE(is_uuid("6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77 "));
    EXPECT_FALSE(is_uuid("6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9g77"));
}

TEST(JsonError, IsEmptyForValidJsonAndNamesTheProblemOtherwise) {
    EXPECT_EQ(json_error(R"({"a":[1,2,{"b":null}]})"), "");
    EXPECT_EQ(json_error("42"), "");
    EXPECT_NE(json_error("{bad"), "");
    EXPECT_NE(json_error(""), "");
    EXPECT_NE(json_error("[1,"), "");
}

TEST(Coordination, MapsSluicesOwnSqlstatesAndNothingElse) {
    EXPECT_EQ(coordination_of(pg::ServerError("moved", "SL001")), Coordination::checkpoint_moved);
    EXPECT_EQ(coordination_of(pg::ServerError("busy", "SL002")), Coordination::subscriber_busy);
    EXPECT_EQ(coordination_of(pg::ServerError("lost", "SL003")), Coordination::owner_lost);
    EXPECT_EQ(coordination_of(pg::ServerError("duplicate", "23505")), std::nullopt);
    EXPECT_EQ(coordination_of(pg::ServerError("unknown", "SL999")), std::nullopt);
}

TEST(Coordination, SqlstatesAreTheOnesTheMigrationsRaise) {
    std::string all;
    for (const auto& m : migrations({}))
        all += m.sql;
    for (auto state : {checkpoint_moved_sqlstate, subscriber_busy_sqlstate, owner_lost_sqlstate})
        EXPECT_THAT(all, HasSubstr("ERRCODE = '" + std::string(state) + "'")) << state;
}

TEST(Migrations, StartWithTheSluiceSchemaThenTheEventsTableThenItsAdditions) {
    auto steps = migrations({});
    ASSERT_GE(steps.size(), 3u);
    EXPECT_EQ(steps[0].version, 1);
    EXPECT_EQ(steps[0].target, "sluice");
    EXPECT_EQ(steps[1].version, 2);
    EXPECT_EQ(steps[1].target, "events");
    EXPECT_EQ(steps[2].version, 3);
    EXPECT_EQ(steps[2].target, "events");
    EXPECT_THAT(steps[2].sql, HasSubstr("'sluice_events'"));
    EXPECT_THAT(steps[2].sql, HasSubstr("FOR EACH STATEMENT"));
}

TEST(Migrations, TargetAConfiguredTableAndChannelWithoutLeftoverPlaceholders) {
    auto steps = migrations({"app.events", "app_events"});
    ASSERT_GE(steps.size(), 3u);
    EXPECT_EQ(steps[1].target, "app.events");
    EXPECT_EQ(steps[2].target, "app.events");
    EXPECT_THAT(steps[1].sql, HasSubstr("\"app\".\"events\""));
    EXPECT_THAT(steps[2].sql, HasSubstr("'app_events'"));
    for (const auto& s : steps)
        EXPECT_THAT(s.sql, Not(HasSubstr("{{"))) << s.name;
}

TEST(Migrations, HaveOneVersionPerTargetInIncreasingOrder) {
    auto steps = migrations({});
    for (std::size_t i = 1; i < steps.size(); ++i) {
        EXPECT_GT(steps[i].version, steps[i - 1].version) << steps[i].name;
        EXPECT_FALSE(steps[i].name.empty());
    }
}

TEST(Migrations, RejectAnInvalidTableNameBeforeProducingAnySql) {
    EXPECT_THROW((void)migrations({"events; DROP TABLE x", "sluice_events"}),
                 std::invalid_argument);
}

TEST(VersionConflict, NamesTheAggregateAndBothVersions) {
    VersionConflict c("6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77", 3, 5);
    EXPECT_STREQ(c.what(),
                 "version conflict on aggregate 6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77: expected "
                 "version 3, but it is at version 5");
    EXPECT_EQ(c.expected(), 3);
    EXPECT_EQ(c.actual(), 5);
}

}  // namespace
}  // namespace sluice::store
