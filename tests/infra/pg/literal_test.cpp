// The SQL text builders: identifiers, literals and array literals. No database.
#include "infra/pg/literal.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::pg {
namespace {

TEST(QuoteIdentifier, DoublesEmbeddedQuotesSoAnyTextIsOneIdentifier) {
    EXPECT_EQ(quote_identifier("events"), "\"events\"");
    EXPECT_EQ(quote_identifier("we\"ird"), "\"we\"\"ird\"");
    EXPECT_EQ(quote_identifier("app.events"), "\"app.events\"");
    EXPECT_EQ(quote_identifier(""), "\"\"");
}

TEST(QuoteQualified, QuotesPlainAndSchemaQualifiedNames) {
    EXPECT_EQ(quote_qualified("events"), "\"events\"");
    EXPECT_EQ(quote_qualified("app.events"), "\"app\".\"events\"");
    EXPECT_EQ(quote_qualified("Mixed_Case1"), "\"Mixed_Case1\"");
}

TEST(QuoteQualified, RejectsNamesThatAreNotPlainIdentifiers) {
    for (const char* bad : {"", "a b", "events;drop table x", "a.b.c", "1events", "\"events\"",
                            "app.", ".events", "we\"ird"}) {
        EXPECT_THROW((void)quote_qualified(bad), std::invalid_argument) << bad;
    }
    EXPECT_THROW((void)quote_qualified(std::string(64, 'a')), std::invalid_argument);
    EXPECT_NO_THROW((void)quote_qualified(std::string(63, 'a')));
}

TEST(QuoteQualified, SaysWhichNameIsNotValid) {
    try {
        (void)quote_qualified("a b");
        FAIL() << "accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "'a b' is not a valid table name");
    }
}

TEST(QuoteLiteral, DoublesSingleQuotesAndLeavesBackslashesAlone) {
    EXPECT_EQ(quote_literal("it's"), "'it''s'");
    EXPECT_EQ(quote_literal(R"(a\b)"), R"('a\b')");
    EXPECT_EQ(quote_literal(""), "''");
}

TEST(TextArray, QuotesEveryElementAndEscapesQuotesAndBackslashes) {
    EXPECT_EQ(text_array(std::vector<std::string>{}), "{}");
    EXPECT_EQ(text_array(std::vector<std::string>{"a", "b c", "NULL", ""}),
              R"({"a","b c","NULL",""})");
    EXPECT_EQ(text_array(std::vector<std::string>{R"(say "hi")", R"(back\slash)", "{x,y}"}),
              R"({"say \"hi\"","back\\slash","{x,y}"})");
}

TEST(TextArray, TakesEachElementThroughAProjection) {
    struct Row {
        std::string id;
    };
    std::vector<Row> rows{{"a"}, {"b"}};
    EXPECT_EQ(text_array(rows, &Row::id), R"({"a","b"})");
}

TEST(IntArray, JoinsIntegersAndTakesAProjection) {
    EXPECT_EQ(int_array(std::vector<std::int64_t>{}), "{}");
    EXPECT_EQ(int_array(std::vector<std::int64_t>{1, -2, 9007199254740993}),
              "{1,-2,9007199254740993}");
    struct Event {
        std::int64_t id;
    };
    std::vector<Event> events{{7}, {8}};
    EXPECT_EQ(int_array(events, &Event::id), "{7,8}");
}

}  // namespace
}  // namespace sluice::pg
