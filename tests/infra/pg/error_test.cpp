// How the client classifies failures, what session settings it sends, and how a failure is
// carried across a co_await. No database.
#include <gtest/gtest.h>

#include <stdexcept>

#include "infra/failure/failure.hpp"
#include "infra/pg/connection.hpp"
#include "infra/pg/error.hpp"

namespace sluice::pg {
namespace {

using namespace std::chrono_literals;

TEST(EndsSession, ForConnectionClassesShutdownsAndNoSqlstate) {
    for (const char* s : {"", "08000", "08006", "08P01", "57P01", "57P02", "57P03", "53300"})
        EXPECT_TRUE(ends_session(s)) << s;
    for (const char* s : {"23505", "22P02", "57014", "40001", "42P01", "SL001", "53200"})
        EXPECT_FALSE(ends_session(s)) << s;
}

TEST(ThrowError, ARefusedStatementIsAServerErrorWithItsSqlstate) {
    try {
        throw_error({"duplicate key value", "23505"});
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "23505");
        EXPECT_STREQ(e.what(), "duplicate key value");
        return;
    }
    FAIL() << "no ServerError";
}

TEST(ThrowError, AServerStatementTimeoutIsAServerErrorNotAClientTimeout) {
    EXPECT_THROW(throw_error({"canceling statement due to statement timeout", "57014"}),
                 ServerError);
}

TEST(ThrowError, AnEndedSessionIsAConnectionLost) {
    try {
        throw_error({"terminating connection due to administrator command", "57P01"});
    } catch (const ConnectionLost& e) {
        EXPECT_EQ(e.sqlstate(), "57P01");
        return;
    }
    FAIL() << "no ConnectionLost";
}

TEST(ThrowError, AFailureWithoutSqlstateIsAConnectionLost) {
    EXPECT_THROW(throw_error({"server closed the connection unexpectedly", ""}), ConnectionLost);
}

TEST(SqlstateOf, IsEmptyForTimeoutsAndOtherExceptions) {
    EXPECT_EQ(sqlstate_of(ServerError("x", "42P01")), "42P01");
    EXPECT_EQ(sqlstate_of(ConnectionLost("x", "57P01")), "57P01");
    EXPECT_EQ(sqlstate_of(Timeout("waiting for PostgreSQL timed out")), "");
    EXPECT_EQ(sqlstate_of(std::runtime_error("x")), "");
}

TEST(SessionSql, SetsOnlyWhatIsGiven) {
    EXPECT_EQ(session_sql({}), "");
    EXPECT_EQ(session_sql("sluice tailer"), "");
    EXPECT_EQ(session_sql({"x", 30s}), "SET statement_timeout = 30000;");
    EXPECT_EQ(session_sql({"x", 1500ms, Jit::off}), "SET statement_timeout = 1500; SET jit = off;");
    EXPECT_EQ(session_sql({"x", std::nullopt, Jit::on}), "SET jit = on;");
}

TEST(TransactionSettingsSql, SetsTheSameForTheCurrentTransactionOnly) {
    EXPECT_EQ(transaction_settings_sql({}), "");
    EXPECT_EQ(transaction_settings_sql({"x", 30s, Pooling::transaction}),
              "SELECT set_config('statement_timeout', '30000', true)");
    EXPECT_EQ(
        transaction_settings_sql({"x", 1500ms, Pooling::transaction, Jit::off}),
        "SELECT set_config('statement_timeout', '1500', true), set_config('jit', 'off', true)");
}

TEST(ListenUrlFor, ListensOnTheListenUrlElseOnASessionOfItsOwnElseNowhere) {
    EXPECT_EQ(listen_url_for("pool", "direct", Pooling::transaction), "direct");
    EXPECT_EQ(listen_url_for("pool", "direct", Pooling::session), "direct");
    EXPECT_EQ(listen_url_for("db", "", Pooling::session), "db");
    EXPECT_EQ(listen_url_for("pool", "", Pooling::transaction), "");
}

TEST(Failure, IsEmptyUntilACatchBlockStoresTheCurrentException) {
    Failure none;
    EXPECT_FALSE(none);
    EXPECT_EQ(none.what(), "");
    EXPECT_FALSE(none.is<Error>());

    Failure failed;
    try {
        throw_error({"relation \"t\" does not exist", "42P01"});
    } catch (const Error&) {
        failed = Failure::current();
    }
    ASSERT_TRUE(failed);
    EXPECT_TRUE(failed.is<ServerError>());
    EXPECT_TRUE(failed.is<Error>());
    EXPECT_FALSE(failed.is<ConnectionLost>());
    EXPECT_EQ(failed.what(), "relation \"t\" does not exist");
    ASSERT_TRUE(failed.as<ServerError>());
    EXPECT_EQ(failed.as<ServerError>()->sqlstate(), "42P01");
    EXPECT_FALSE(failed.as<Timeout>());
    EXPECT_THROW(failed.rethrow(), ServerError);
}

TEST(OneLine, JoinsLibpqsLinesWithSemicolonsSoTheHintStaysReadable) {
    EXPECT_EQ(one_line("connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n"
                       "\tIs the server running on that host and accepting TCP/IP connections?\n"),
              "connection to server at \"127.0.0.1\", port 1 failed: Connection refused; Is the "
              "server running on that host and accepting TCP/IP connections?");
    EXPECT_EQ(one_line("  a  \t b \r\n\n c "), "a b; c");
    EXPECT_EQ(one_line(""), "");
}

}  // namespace
}  // namespace sluice::pg
