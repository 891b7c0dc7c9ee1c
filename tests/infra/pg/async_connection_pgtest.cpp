// The PostgreSQL client against a real server: queries, pipelines, notifications, session
// options, deadlines, and which error type each kind of failure is.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "infra/pg/async_connection.hpp"
#include "test_database.hpp"

namespace {

using namespace sluice;
using namespace std::chrono_literals;
namespace asio = boost::asio;

// Runs a coroutine to completion on a fresh io_context and checks nothing is left pending.
template <class F>
auto run(F&& f) {
    asio::io_context io;
    auto fut = asio::co_spawn(io, std::forward<F>(f)(io.get_executor()), asio::use_future);
    io.run();
    return fut.get();
}

TEST(AsyncConnection, RunsAQueryWithBoundParameters) {
    auto db = sluice::testing::TestDatabase::create();
    auto value = run([&](asio::any_io_executor ex) -> asio::awaitable<std::string> {
        auto conn = co_await pg::AsyncConnection::connect(ex, db.url(), 5s);
        auto r = co_await conn.query("SELECT $1::text || '!'", pg::Params("it's"));
        co_return std::string(r.text(0, 0));
    });
    EXPECT_EQ(value, "it's!");
}

TEST(AsyncConnection, RunsAPipelineAsOneTransaction) {
    auto db = sluice::testing::TestDatabase::create();
    auto conn0 = db.connect();
    conn0.exec("CREATE TABLE t (v int PRIMARY KEY)");
    auto rows = run([&](asio::any_io_executor ex) -> asio::awaitable<int> {
        auto conn = co_await pg::AsyncConnection::connect(ex, db.url(), 5s);
        std::vector<pg::Step> ok;
        for (int i = 0; i < 100; ++i)
            ok.push_back({"INSERT INTO t VALUES ($1)", pg::Params(i)});
        auto results = co_await conn.pipeline(ok);
        EXPECT_EQ(results.size(), 100U);
        std::vector<pg::Step> failing = {{"INSERT INTO t VALUES (1000)", {}},
                                         {"INSERT INTO t VALUES (1)", {}},
                                         {"INSERT INTO t VALUES (1001)", {}}};
        std::string sqlstate;
        try {
            co_await conn.pipeline(failing);
        } catch (const pg::ServerError& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "23505");
        EXPECT_TRUE(conn.is_usable());
        auto r = co_await conn.query("SELECT count(*) FROM t");
        co_return static_cast<int>(r.int64(0, 0));
    });
    EXPECT_EQ(rows, 100) << "the failing pipeline must have rolled back as a whole";
}

TEST(AsyncConnection, ReceivesNotifications) {
    auto db = sluice::testing::TestDatabase::create();
    auto channel = run([&](asio::any_io_executor ex) -> asio::awaitable<std::string> {
        auto conn = co_await pg::AsyncConnection::connect(ex, db.url(), 5s);
        co_await conn.exec_script("LISTEN wake");
        auto none = co_await conn.wait_notifications(50ms);
        EXPECT_TRUE(none.empty());
        auto other = db.connect();
        other.exec("SELECT pg_notify('wake', 'x')");
        auto notes = co_await conn.wait_notifications(5s);
        co_return notes.empty() ? std::string() : notes.front().channel;
    });
    EXPECT_EQ(channel, "wake");
}

TEST(AsyncConnection, AClientDeadlineIsATimeoutAndLeavesTheConnectionUnusable) {
    auto db = sluice::testing::TestDatabase::create();
    auto outcome = run([&](asio::any_io_executor ex) -> asio::awaitable<std::string> {
        auto conn = co_await pg::AsyncConnection::connect(ex, db.url(), 5s);
        try {
            co_await conn.query("SELECT pg_sleep(5)", {}, 100ms);
        } catch (const pg::Timeout& e) {
            EXPECT_FALSE(conn.is_usable());
            co_return e.what();
        }
        co_return "no timeout";
    });
    EXPECT_NE(outcome.find("timed out"), std::string::npos) << outcome;
}

TEST(AsyncConnection, ABadStatementIsAServerErrorWithItsSqlstateAndTheConnectionGoesOn) {
    auto db = sluice::testing::TestDatabase::create();
    auto sqlstate = run([&](asio::any_io_executor ex) -> asio::awaitable<std::string> {
        auto conn = co_await pg::AsyncConnection::connect(ex, db.url(), 5s);
        std::string state;
        try {
            co_await conn.query("SELECT * FROM no_such_table");
        } catch (const pg::ServerError& e) {
            state = e.sqlstate();
        }
        EXPECT_TRUE(conn.is_usable());
        auto r = co_await conn.query("SELECT 1");
        EXPECT_EQ(r.int64(0, 0), 1);
        co_return state;
    });
    EXPECT_EQ(sqlstate, "42P01");
}

TEST(AsyncConnection, AKilledBackendIsAConnectionLost) {
    auto db = sluice::testing::TestDatabase::create();
    auto lost = run([&](asio::any_io_executor ex) -> asio::awaitable<bool> {
        auto conn = co_await pg::AsyncConnection::connect(ex, db.url(), 5s);
        auto pid = co_await conn.query("SELECT pg_backend_pid()");
        db.connect().exec("SELECT pg_terminate_backend($1::int)",
                          pg::Params(std::string(pid.text(0, 0))));
        try {
            co_await conn.query("SELECT 1");
        } catch (const pg::ConnectionLost&) {
            EXPECT_FALSE(conn.is_usable());
            co_return true;
        }
        co_return false;
    });
    EXPECT_TRUE(lost);
}

TEST(AsyncConnection, AppliesSessionOptionsOnConnect) {
    auto db = sluice::testing::TestDatabase::create();
    auto settings = run([&](asio::any_io_executor ex) -> asio::awaitable<std::string> {
        auto conn = co_await pg::AsyncConnection::connect(ex, db.url(), 5s,
                                                          {"sluice test", 1234ms, pg::Jit::off});
        auto r = co_await conn.query(
            "SELECT current_setting('application_name') || ' ' || "
            "current_setting('statement_timeout') || ' ' || current_setting('jit')");
        co_return std::string(r.text(0, 0));
    });
    EXPECT_EQ(settings, "sluice test 1234ms off");
}

TEST(Connection, AppliesSessionOptionsOnOpen) {
    auto db = sluice::testing::TestDatabase::create();
    auto conn = pg::Connection::open(db.url(), 10, {"sluice sync", 2s});
    auto r = conn.exec(
        "SELECT current_setting('application_name') || ' ' || "
        "current_setting('statement_timeout')");
    EXPECT_EQ(r.text(0, 0), "sluice sync 2s");
}

TEST(AsyncConnection, ReportsAnUnreachableServerWithoutThePassword) {
    auto message = run([&](asio::any_io_executor ex) -> asio::awaitable<std::string> {
        try {
            co_await pg::AsyncConnection::connect(ex, "postgresql://u:sekrit@127.0.0.1:1/db", 2s);
        } catch (const pg::ConnectionLost& e) {
            co_return e.what();
        }
        co_return "connected";
    });
    EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;
    EXPECT_EQ(message.find("sekrit"), std::string::npos) << message;
}

}  // namespace
