#include "infra/sql/sql_template.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sluice::sql {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> names(std::string_view sql) {
    std::vector<std::string> out;
    for (const auto& p : scan_params(sql)) {
        out.push_back(p.name);
    }
    return out;
}

std::vector<std::string> texts(std::string_view sql) {
    std::vector<std::string> out;
    for (const auto& s : split_statements(sql)) {
        out.emplace_back(s.text);
    }
    return out;
}

TEST(ScanParams, FindsNamesWithOffsetAndLength) {
    const std::string_view sql = "UPDATE t SET a = :payload WHERE id = :aggregate_id";
    EXPECT_THAT(scan_params(sql),
                ElementsAre(ParamRef{"payload", 17, 8}, ParamRef{"aggregate_id", 37, 13}));
}

TEST(ScanParams, IgnoresCastsButSeesAParamFollowedByACast) {
    EXPECT_THAT(names("SELECT x::uuid, :payload::text, (:payload->>'a')::int"),
                ElementsAre("payload", "payload"));
    EXPECT_THAT(names("SELECT '1'::int::text"), IsEmpty());
}

TEST(ScanParams, IgnoresStringLiteralsWithDoubledQuotes) {
    EXPECT_THAT(names("SELECT ':no', 'it''s :no', :yes"), ElementsAre("yes"));
}

TEST(ScanParams, IgnoresEscapeStringsWithBackslashQuotes) {
    EXPECT_THAT(names(R"(SELECT E'a\' :no', e'\\', :yes)"), ElementsAre("yes"));
    // Without the E prefix a backslash is an ordinary character and the quote ends the literal.
    EXPECT_THAT(names(R"(SELECT 'a\', :yes)"), ElementsAre("yes"));
}

TEST(ScanParams, TreatsEAtTheEndOfAnIdentifierAsPartOfIt) {
    EXPECT_THAT(names(R"(SELECT namE'\', :yes)"), ElementsAre("yes"));
}

TEST(ScanParams, IgnoresQuotedIdentifiers) {
    EXPECT_THAT(names(R"(SELECT "col:no", "a""b:no" FROM t WHERE x = :yes)"), ElementsAre("yes"));
}

TEST(ScanParams, IgnoresLineAndNestedBlockComments) {
    EXPECT_THAT(names("SELECT 1 -- :no\n, :yes /* :no /* :nested */ :still_no */ , :also"),
                ElementsAre("yes", "also"));
}

TEST(ScanParams, IgnoresDollarQuotedBodies) {
    EXPECT_THAT(names("DO $$ BEGIN PERFORM :no; END $$; SELECT :yes"), ElementsAre("yes"));
    EXPECT_THAT(names("SELECT $fn$ :no $$ :no $fn$, :yes"), ElementsAre("yes"));
}

TEST(ScanParams, DoesNotMistakePositionalParametersOrIdentifierDollarsForQuotes) {
    EXPECT_THAT(names("SELECT $1, :a, $2"), ElementsAre("a"));
    EXPECT_THAT(names("SELECT foo$bar, :a, x$ FROM t WHERE y = :b"), ElementsAre("a", "b"));
}

TEST(ScanParams, IgnoresNumericArraySlicesAndLoneColons) {
    EXPECT_THAT(names("SELECT a[1:2], b[:3], ': ' FROM t WHERE c = :id"), ElementsAre("id"));
    EXPECT_THAT(names("SELECT 1 :"), IsEmpty());
}

TEST(ScanParams, RunsUnterminatedLiteralsToTheEnd) {
    EXPECT_THAT(names("SELECT :a, 'open :no"), ElementsAre("a"));
    EXPECT_THAT(names("SELECT :a /* open :no"), ElementsAre("a"));
    EXPECT_THAT(names("SELECT :a, $q$ open :no"), ElementsAre("a"));
}

TEST(SubstituteParams, ReplacesOnlyParameters) {
    int n = 0;
    const auto out = substitute_params("INSERT INTO t VALUES (:id, ':id', :payload::jsonb) -- :id",
                                       [&](const ParamRef&) { return "$" + std::to_string(++n); });
    EXPECT_EQ(out, "INSERT INTO t VALUES ($1, ':id', $2::jsonb) -- :id");
}

TEST(SubstituteParams, LeavesTextWithoutParametersUnchanged) {
    const std::string_view sql = "SELECT 'a'::text";
    EXPECT_EQ(substitute_params(sql, [](const ParamRef&) { return "X"; }), sql);
}

TEST(SplitStatements, SplitsAtTopLevelSemicolonsAndTrims) {
    const std::string_view sql = "  CREATE TABLE a (x int);\n\n INSERT INTO a VALUES (1) ;  ";
    const auto statements = split_statements(sql);
    ASSERT_EQ(statements.size(), 2u);
    EXPECT_EQ(statements[0].text, "CREATE TABLE a (x int)");
    EXPECT_EQ(statements[0].offset, 2u);
    EXPECT_EQ(statements[1].text, "INSERT INTO a VALUES (1)");
    EXPECT_EQ(sql.substr(statements[1].offset, statements[1].text.size()), statements[1].text);
}

TEST(SplitStatements, KeepsSemicolonsInsideLiteralsCommentsAndDollarQuotes) {
    EXPECT_THAT(texts("SELECT ';'; SELECT \"a;b\" -- x;y\n; SELECT E'\\';'; "
                      "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql"),
                ElementsAre("SELECT ';'", "SELECT \"a;b\" -- x;y", "SELECT E'\\';'",
                            "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE "
                            "sql"));
    EXPECT_THAT(texts("SELECT 1 /* ; /* ; */ ; */; SELECT 2"),
                ElementsAre("SELECT 1 /* ; /* ; */ ; */", "SELECT 2"));
}

TEST(SplitStatements, DropsEmptyAndCommentOnlyStatements) {
    EXPECT_THAT(texts(";; SELECT 1;;\n-- trailing note\n;  /* nothing */ ;"),
                ElementsAre("SELECT 1"));
    EXPECT_THAT(texts("   "), IsEmpty());
}

TEST(EventParams, ListsTheColumnsWithTheirTypes) {
    EXPECT_THAT(event_params(),
                ElementsAre("id", "transaction_id", "aggregate_id", "aggregate_type", "version",
                            "event_type", "payload", "metadata", "timestamp"));
    EXPECT_EQ(event_param_type("aggregate_id"), "uuid");
    EXPECT_EQ(event_param_type("transaction_id"), "xid8");
    EXPECT_EQ(event_param_type("timestamp"), "timestamptz");
    EXPECT_EQ(event_param_type("payload"), "jsonb");
    EXPECT_EQ(event_param_type("nope"), "");
    EXPECT_TRUE(is_event_param("version"));
    EXPECT_FALSE(is_event_param("Version"));
}

}  // namespace
}  // namespace sluice::sql
