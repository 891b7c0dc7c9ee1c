// Coordinators of several "instances" in one process, against a real database: the work spreads,
// a stopped or disconnected instance's units move to the others, and the owners row fences a
// former owner's commits. The Work here only records what it was told to run.
#include "engine/coordinator.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "infra/pg/error.hpp"
#include "store/coordination.hpp"
#include "test_database.hpp"

namespace sluice::engine {
namespace {

using namespace std::chrono_literals;
using testing::TestDatabase;

class RecordingWork final : public Work {
  public:
    explicit RecordingWork(std::vector<std::string> units) : units_(std::move(units)) {}
    [[nodiscard]] std::vector<std::string> units() const override { return units_; }
    asio::awaitable<void> own(std::map<std::string, std::string> owned) override {
        running.clear();
        for (auto& [name, owner] : owned)
            running.insert(name);
        owners = std::move(owned);
        co_return;
    }
    [[nodiscard]] std::vector<std::string> handed_over() override { return {}; }

    std::set<std::string> running;
    std::map<std::string, std::string> owners;  // what each unit's batches would present

  private:
    std::vector<std::string> units_;
};

struct Instance {
    Instance(asio::io_context& io, const std::string& url, const std::string& id,
             std::vector<std::string> units)
        : work(std::move(units)), coordinator(io.get_executor(), options(url, id), work) {
        asio::co_spawn(io, coordinator.run(), asio::detached);
    }
    static CoordinatorOptions options(const std::string& url, const std::string& id) {
        CoordinatorOptions o;
        o.url = url;
        o.instance = id;
        o.host = "test";
        o.pid = 1;
        o.failover_after = 2s;
        o.connect_timeout = 5s;
        o.statement_timeout = 5s;
        return o;
    }
    RecordingWork work;
    Coordinator coordinator;
};

// Runs the loop until `condition` holds; false after `timeout`.
bool run_until(asio::io_context& io, const std::function<bool()>& condition,
               std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition())
            return true;
        io.run_for(20ms);
    }
    return condition();
}

std::string describe(const Instance& i) {
    std::string out = i.coordinator.stats().last_error + " running:";
    for (const auto& n : i.work.running)
        out += " " + n;
    return out;
}

const std::vector<std::string> four = {"p[1/4]", "p[2/4]", "p[3/4]", "p[4/4]"};

class Coordination : public ::testing::Test {
  protected:
    void SetUp() override { db_.migrate(); }
    TestDatabase db_ = TestDatabase::create();
    asio::io_context io_;
};

TEST_F(Coordination, ALoneInstanceTakesEveryUnitAndRecordsItsOwnership) {
    Instance a(io_, db_.url(), "a", four);
    ASSERT_TRUE(run_until(
        io_, [&] { return a.work.running.size() == 4; }, 10s))
        << describe(a);
    auto conn = db_.connect();
    auto r = conn.exec("SELECT count(*) FROM sluice.owners WHERE instance_id = 'a'");
    EXPECT_EQ(r.int64(0, 0), 4);
    EXPECT_EQ(a.coordinator.stats().live_instances, 1);
}

TEST_F(Coordination, ASecondInstanceGetsHalfTheUnits) {
    Instance a(io_, db_.url(), "a", four);
    ASSERT_TRUE(run_until(
        io_, [&] { return a.work.running.size() == 4; }, 10s))
        << describe(a);
    Instance b(io_, db_.url(), "b", four);
    ASSERT_TRUE(run_until(
        io_, [&] { return a.work.running.size() == 2 && b.work.running.size() == 2; }, 10s))
        << "a: " << describe(a) << "; b: " << describe(b);
    for (const auto& n : a.work.running)
        EXPECT_FALSE(b.work.running.contains(n)) << n << " runs on both instances";
}

TEST_F(Coordination, AStoppedInstanceHandsItsUnitsOverAtOnce) {
    Instance a(io_, db_.url(), "a", four);
    Instance b(io_, db_.url(), "b", four);
    ASSERT_TRUE(run_until(
        io_, [&] { return a.work.running.size() == 2 && b.work.running.size() == 2; }, 10s))
        << "a: " << describe(a) << "; b: " << describe(b);
    a.coordinator.stop();
    auto stopped = std::chrono::steady_clock::now();
    ASSERT_TRUE(run_until(
        io_, [&] { return b.work.running.size() == 4; }, 5s))
        << describe(b);
    EXPECT_TRUE(a.work.running.empty());
    EXPECT_LT(std::chrono::steady_clock::now() - stopped, 2s);
}

TEST_F(Coordination, AnInstanceThatLosesItsConnectionStopsItsUnitsAndAnotherTakesThem) {
    Instance a(io_, db_.url(), "a", four);
    ASSERT_TRUE(run_until(
        io_, [&] { return a.work.running.size() == 4; }, 10s))
        << describe(a);
    Instance b(io_, db_.url(), "b", four);
    ASSERT_TRUE(run_until(
        io_, [&] { return b.coordinator.stats().connected; }, 10s));
    auto conn = db_.connect();
    conn.exec(
        "SELECT pg_terminate_backend(backend_pid) FROM sluice.owners WHERE instance_id = 'a'");
    // b takes all four while a is away; a comes back and the work spreads again.
    bool moved = run_until(
        io_, [&] { return b.work.running.size() >= 2 && a.coordinator.stats().reconnects > 0; },
        10s);
    ASSERT_TRUE(moved) << "a: " << describe(a) << "; b: " << describe(b);
    ASSERT_TRUE(run_until(
        io_, [&] { return a.work.running.size() == 2 && b.work.running.size() == 2; }, 15s))
        << "a: " << describe(a) << "; b: " << describe(b);
}

TEST_F(Coordination, ASilentOwnerIsReplacedAfterFailoverAfter) {
    // A hung owner: its session holds the unit's lock, but its heartbeat stopped.
    auto hung = db_.connect();
    hung.exec("SELECT sluice.acquire_owner('solo', 'hung', 'elsewhere', 7)");
    hung.exec("UPDATE sluice.owners SET heartbeat = now() - interval '1 hour' WHERE name = 'solo'");
    Instance a(io_, db_.url(), "a", {"solo"});
    auto started = std::chrono::steady_clock::now();
    ASSERT_TRUE(run_until(
        io_, [&] { return a.work.running.size() == 1; }, 10s))
        << describe(a);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s + 2s)
        << "took longer than failover_after plus a tick or two";
    auto conn = db_.connect();
    EXPECT_EQ(conn.exec("SELECT instance_id FROM sluice.owners WHERE name = 'solo'").text(0, 0),
              "a");
    EXPECT_THROW(hung.exec("SELECT 1"), std::exception) << "the hung owner's session survived";
}

TEST_F(Coordination, AnOwnerWithAFreshHeartbeatIsLeftAlone) {
    auto other = db_.connect();
    other.exec("SELECT sluice.acquire_owner('solo', 'other', 'elsewhere', 7)");
    Instance a(io_, db_.url(), "a", {"solo"});
    // Keep the other owner's heartbeat fresh for longer than failover_after.
    auto until = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < until) {
        other.exec("UPDATE sluice.owners SET heartbeat = now() WHERE name = 'solo'");
        io_.run_for(100ms);
    }
    EXPECT_TRUE(a.work.running.empty()) << describe(a);
    EXPECT_EQ(other.exec("SELECT instance_id FROM sluice.owners WHERE name = 'solo'").text(0, 0),
              "other");
}

TEST_F(Coordination, TheOwnersRowFencesAFormerOwnersBatch) {
    Instance a(io_, db_.url(), "a", {"solo"});
    ASSERT_TRUE(run_until(
        io_, [&] { return a.work.running.size() == 1; }, 10s))
        << describe(a);
    auto conn = db_.connect();
    conn.exec("SELECT sluice.check_owner('solo', 'a')");  // the owner passes
    try {
        conn.exec("SELECT sluice.check_owner('solo', 'not-the-owner')");
        FAIL() << "a non-owner passed the ownership check";
    } catch (const pg::ServerError& e) {
        EXPECT_EQ(store::coordination_of(e), store::Coordination::owner_lost) << e.what();
    }
}

}  // namespace
}  // namespace sluice::engine
