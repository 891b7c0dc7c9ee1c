#include "config/source_text.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace sluice::config {
namespace {

// Where ":needle" (the first occurrence in the parsed value of key) is reported.
std::pair<int, int> locate_needle(const std::string& yaml, const std::string& key) {
    const auto root = YAML::Load(yaml);
    const auto node = root[key];
    const auto& value = node.Scalar();
    const auto offset = value.find(":needle");
    EXPECT_NE(offset, std::string::npos) << value;
    const SourceText source(yaml);
    const auto pos = source.locate(node.Mark().line, node.Mark().column, value, offset);
    return {pos.line, pos.column};
}

TEST(SourceText, LocatesInsidePlainScalars) {
    EXPECT_EQ(locate_needle("a: 1\nk: SELECT :needle\n", "k"), std::pair(2, 11));
}

TEST(SourceText, LocatesInsideMultiLinePlainScalars) {
    EXPECT_EQ(locate_needle("k: SELECT 1,\n     2, :needle # comment\n", "k"), std::pair(2, 9));
}

TEST(SourceText, LocatesInsideSingleQuotedScalarsWithDoubledQuotes) {
    EXPECT_EQ(locate_needle("k: 'it''s '':needle'\n", "k"), std::pair(1, 13));
}

TEST(SourceText, LocatesInsideDoubleQuotedScalarsWithEscapes) {
    EXPECT_EQ(locate_needle("k: \"a\\tb\\u00e9\\\"c :needle\"\n", "k"), std::pair(1, 19));
}

TEST(SourceText, LocatesAcrossEscapedLineBreaksInDoubleQuotes) {
    EXPECT_EQ(locate_needle("k: \"SELECT \\\n   :needle\"\n", "k"), std::pair(2, 4));
}

TEST(SourceText, LocatesInsideLiteralBlocks) {
    const std::string yaml = "x:\n  k: |\n    line one\n\n      indented :needle\n";
    const auto root = YAML::Load(yaml);
    const auto node = root["x"]["k"];
    const auto offset = node.Scalar().find(":needle");
    const SourceText source(yaml);
    const auto pos = source.locate(node.Mark().line, node.Mark().column, node.Scalar(), offset);
    EXPECT_EQ(pos.line, 5);
    EXPECT_EQ(pos.column, 16);
}

TEST(SourceText, LocatesInsideFoldedBlocksWithHeaderComments) {
    EXPECT_EQ(locate_needle("k: >-  # the SQL\n  SELECT 1\n  FROM t WHERE :needle\n", "k"),
              std::pair(3, 16));
}

TEST(SourceText, LocatesBehindAnchorsAndTags) {
    EXPECT_EQ(locate_needle("k: &anchor !!str SELECT :needle\n", "k"), std::pair(1, 25));
}

TEST(SourceText, FallsBackToTheScalarStartWhenTextAndValueDisagree) {
    const SourceText source("k: abc\n");
    const auto pos = source.locate(0, 3, "xyz", 1);
    EXPECT_EQ(pos.line, 1);
    EXPECT_EQ(pos.column, 4);
}

}  // namespace
}  // namespace sluice::config
