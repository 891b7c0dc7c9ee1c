#include "outbox/signature.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sluice::outbox {
namespace {

// The test vector published with the Standard Webhooks specification.
const std::string spec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string spec_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t spec_timestamp = 1614265330;
const std::string spec_body = R"({"test": 2432232314})";
const std::string spec_signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

TEST(Signature, MatchesTheSpecTestVector) {
    EXPECT_EQ(sign(spec_id, spec_timestamp, spec_body, {spec_secret}), spec_signature);
}

TEST(Signature, VerifiesTheSpecTestVector) {
    EXPECT_TRUE(verify(spec_id, spec_timestamp, spec_body, spec_signature, {spec_secret}));
}

TEST(Signature, RejectsATamperedBodyIdOrTimestamp) {
    EXPECT_FALSE(
        verify(spec_id, spec_timestamp, R"({"test": 2432232315})", spec_signature, {spec_secret}));
    EXPECT_FALSE(verify("msg_other", spec_timestamp, spec_body, spec_signature, {spec_secret}));
    EXPECT_FALSE(verify(spec_id, spec_timestamp + 1, spec_body, spec_signature, {spec_secret}));
}

TEST(Signature, SignsWithEverySecretDuringRotation) {
    const std::string next = "whsec_" + base64_encode("a brand new secret key of 32 b!!");
    auto header = sign(spec_id, spec_timestamp, spec_body, {spec_secret, next});

    auto space = header.find(' ');
    ASSERT_NE(space, std::string::npos) << header;
    EXPECT_EQ(header.substr(0, space), spec_signature);
    // A receiver that knows only the old or only the new secret accepts the message.
    EXPECT_TRUE(verify(spec_id, spec_timestamp, spec_body, header, {spec_secret}));
    EXPECT_TRUE(verify(spec_id, spec_timestamp, spec_body, header, {next}));
    EXPECT_FALSE(verify(spec_id, spec_timestamp, spec_body, header,
                        {"whsec_" + base64_encode("some unrelated secret")}));
}

TEST(Signature, IgnoresUnknownVersionsAndGarbageEntries) {
    auto header = "v2,abc v1,%%% " + spec_signature;
    EXPECT_TRUE(verify(spec_id, spec_timestamp, spec_body, header, {spec_secret}));
    EXPECT_FALSE(verify(spec_id, spec_timestamp, spec_body, "v2,abc v1,%%%", {spec_secret}));
    EXPECT_FALSE(verify(spec_id, spec_timestamp, spec_body, "", {spec_secret}));
}

TEST(Signature, RejectsAMalformedSecretWithoutEchoingIt) {
    try {
        (void)sign(spec_id, spec_timestamp, spec_body, {"whsec_not*base64"});
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).find("not*base64"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(verify(spec_id, spec_timestamp, spec_body, spec_signature, {"whsec_!"}));
}

TEST(Base64, RoundTripsEveryPaddingLength) {
    for (const std::string& s :
         std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
        std::string decoded;
        ASSERT_TRUE(base64_decode(base64_encode(s), decoded)) << s;
        EXPECT_EQ(decoded, s);
    }
    std::string out;
    EXPECT_FALSE(base64_decode("abc", out));
    EXPECT_FALSE(base64_decode("ab!=", out));
}

}  // namespace
}  // namespace sluice::outbox
