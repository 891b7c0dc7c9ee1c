// The owners row fences a running daemon: when the row says another instance owns a projection,
// the daemon stops running it — its next batch fails the ownership check and commits nothing,
// or, when its coordinator's tick sees the row first, the coordinator stops the runner — and,
// as the row's instance holds no lock, takes it back and goes on from the stored checkpoint.
// Every event is applied exactly once throughout.
#include "counting_fixture.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

using Fencing = CountingProjectionTest;

TEST_F(Fencing, ADaemonThatLostTheOwnersRowCommitsNothingAndTakesTheProjectionBackLater) {
    append_ticks(100);
    auto daemon = DaemonProcess::start(write_config(db_->url()));
    ASSERT_TRUE(wait_until([&] { return daemon.count_in_log("took ownership") >= 1; }, 20s))
        << daemon.output_tail();
    ASSERT_TRUE(wait_until([&] { return applied("count(*)") == 100; }, 20s))
        << daemon.output_tail();

    // Another instance "takes over": the row names it now (as when a unit moved while this
    // daemon's session was away), committed with new events, so the runner's next batch
    // (woken by their NOTIFY) usually meets the ownership check before the coordinator's tick.
    {
        pg::Transaction tx(conn());
        conn().exec(
            "UPDATE sluice.owners SET instance_id = 'intruder', heartbeat = now() "
            "WHERE name = 'p'");
        append_ticks(100);
        tx.commit();
    }
    ASSERT_TRUE(wait_until(
        [&] {
            return daemon.count_in_log("another instance owns this subscriber now") +
                       daemon.count_in_log("lost ownership") >
                   0;
        },
        15s))
        << daemon.output_tail();
    // The intruder holds no lock (it has no session), so the daemon takes p back on a later
    // tick and goes on from the stored checkpoint.
    ASSERT_TRUE(wait_until([&] { return applied("count(*)") == 200; }, 20s))
        << "applied " << applied("count(*)") << "\n"
        << daemon.output_tail();
    EXPECT_EQ(applied("max(times)"), 1) << "an event was applied twice";
    EXPECT_GE(daemon.count_in_log("took ownership"), 2U) << daemon.output_tail();
    expect_clean_stop(daemon);
}

}  // namespace
}  // namespace sluice::testing
