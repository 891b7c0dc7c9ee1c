// The quarantine check in a projection's generated functions (the database side, parking behind
// a quarantined aggregate, is pinned end to end in tests/daemon/quarantine_pgtest.cpp): both the
// batch function and the catch-up park an event of a quarantined aggregate instead of applying
// it, only for the event types the projection takes, and the batch call names the subscriber.
#include "projections/apply_function.hpp"

#include <gtest/gtest.h>

namespace sluice::projections {
namespace {

config::Projection projection_of(std::vector<std::string> types) {
    config::Projection p;
    p.name = "accounts";
    p.aggregate_types = {"Account"};
    for (auto& t : types)
        p.handlers.push_back({t, "SELECT 1", {}});
    return p;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

TEST(ApplyFunction, BothFunctionsParkBehindAQuarantinedAggregateBeforeTheHandlers) {
    const auto f = apply_function(projection_of({"Deposited", "Withdrawn"}), "\"events\"");
    EXPECT_EQ(occurrences(f.create_sql, "sluice.park_if_quarantined(p_name, sluice_ev.id"), 2U)
        << f.create_sql;
    EXPECT_EQ(occurrences(f.create_sql,
                          "IF sluice_held AND sluice_ev.event_type IN ('Deposited', 'Withdrawn')"),
              2U)
        << "only the events a handler takes are held back";
    // The handlers run only when the event was not parked.
    const auto check = f.create_sql.find("sluice.park_if_quarantined");
    const auto unless = f.create_sql.find("IF NOT sluice_behind THEN", check);
    const auto handler = f.create_sql.find("WHEN 'Deposited' THEN", check);
    ASSERT_NE(unless, std::string::npos);
    EXPECT_LT(unless, handler);
    EXPECT_EQ(f.call_sql, "SELECT pg_temp.sluice_apply_accounts($1::bigint[], $2)");
}

TEST(ApplyFunction, ReadsWhetherAnythingIsQuarantinedOncePerCallNotPerEvent) {
    const auto f = apply_function(projection_of({"Deposited"}), "\"events\"", {1, 4});
    const std::string read = "sluice_held := EXISTS (SELECT 1 FROM sluice.parked_events";
    EXPECT_EQ(occurrences(f.create_sql, read), 2U) << f.create_sql;
    EXPECT_LT(f.create_sql.find(read), f.create_sql.find("FOR sluice_ev IN"));
    // A part checks in both of its catch-up reads (with and without its part index).
    EXPECT_EQ(occurrences(f.create_sql, "sluice.park_if_quarantined"), 3U);
}

}  // namespace
}  // namespace sluice::projections
