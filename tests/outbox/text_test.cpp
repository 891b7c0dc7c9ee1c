#include "outbox/text.hpp"

#include <gtest/gtest.h>

namespace sluice::outbox {
namespace {

TEST(StorableText, KeepsValidUtf8Unchanged) {
    EXPECT_EQ(storable_text("héllo ✓ 😀", 100), "héllo ✓ 😀");
}

TEST(StorableText, ReplacesInvalidBytesAndNul) {
    EXPECT_EQ(storable_text(std::string("a\0b", 3), 100),
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(storable_text("a\xff"
                            "b",
                            100),
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(storable_text("\xED\xA0\x80", 100), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StorableText, CutsOnACharacterBoundary) {
    EXPECT_EQ(storable_text("ab✓", 4), "ab");
    EXPECT_EQ(storable_text("ab✓", 5), "ab✓");
    EXPECT_EQ(storable_text("abcdef", 3), "abc");
}

}  // namespace
}  // namespace sluice::outbox
