#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/env_expand.hpp"
#include "config/units.hpp"
#include "config/validate.hpp"

namespace sluice::config {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(ParseDuration, AcceptsEveryUnit) {
    EXPECT_EQ(parse_duration("250ms").value, Duration(250ms));
    EXPECT_EQ(parse_duration("5s").value, Duration(5s));
    EXPECT_EQ(parse_duration("10m").value, Duration(10min));
    EXPECT_EQ(parse_duration("5min").value, Duration(5min));
    EXPECT_EQ(parse_duration("2h").value, Duration(2h));
    EXPECT_EQ(parse_duration("7d").value, Duration(std::chrono::hours(7 * 24)));
    EXPECT_EQ(parse_duration("0s").value, Duration(0));
}

TEST(ParseDuration, RejectsPlainNumbersAndUnknownUnits) {
    EXPECT_THAT(parse_duration("5").error, HasSubstr("duration needs a unit"));
    EXPECT_THAT(parse_duration("5y").error, HasSubstr("unknown duration unit"));
    EXPECT_THAT(parse_duration("5 s").error, HasSubstr("unknown duration unit"));
    EXPECT_THAT(parse_duration("1.5s").error, HasSubstr("unknown duration unit"));
    EXPECT_FALSE(parse_duration("-5s").value);
    EXPECT_FALSE(parse_duration("s").value);
    EXPECT_FALSE(parse_duration("").value);
    EXPECT_THAT(parse_duration("999999999999999999d").error, HasSubstr("too large"));
}

TEST(ParseSize, AcceptsBinaryUnitsAndPlainBytes) {
    EXPECT_EQ(parse_size("512B").value, 512u);
    EXPECT_EQ(parse_size("4KiB").value, 4096u);
    EXPECT_EQ(parse_size("1MiB").value, 1024u * 1024);
    EXPECT_EQ(parse_size("2GiB").value, 2048u * 1024 * 1024);
    EXPECT_EQ(parse_size("1000").value, 1000u);
}

TEST(ParseSize, RejectsDecimalUnitsAndNegativeNumbers) {
    EXPECT_THAT(parse_size("4KB").error, HasSubstr("unknown size unit"));
    EXPECT_FALSE(parse_size("-1").value);
    EXPECT_FALSE(parse_size("KiB").value);
}

TEST(ParseFraction, AcceptsPercentOrFraction) {
    EXPECT_DOUBLE_EQ(*parse_fraction("20%").value, 0.2);
    EXPECT_DOUBLE_EQ(*parse_fraction("0.2").value, 0.2);
    EXPECT_DOUBLE_EQ(*parse_fraction("0").value, 0.0);
    EXPECT_DOUBLE_EQ(*parse_fraction("100%").value, 1.0);
    EXPECT_FALSE(parse_fraction("150%").value);
    EXPECT_FALSE(parse_fraction("1.5").value);
    EXPECT_FALSE(parse_fraction("-0.1").value);
    EXPECT_FALSE(parse_fraction("%").value);
    EXPECT_FALSE(parse_fraction("lots").value);
}

TEST(ParseRate, AcceptsACountPerSecondMinuteOrHour) {
    EXPECT_DOUBLE_EQ(*parse_rate("20/s").value, 20.0);
    EXPECT_DOUBLE_EQ(*parse_rate("600/min").value, 10.0);
    EXPECT_DOUBLE_EQ(*parse_rate("3600/h").value, 1.0);
    EXPECT_DOUBLE_EQ(*parse_rate("0.5/s").value, 0.5);
    EXPECT_THAT(parse_rate("20").error, HasSubstr("expected a rate such as 20/s"));
    EXPECT_THAT(parse_rate("20/day").error, HasSubstr("unknown rate unit"));
    EXPECT_THAT(parse_rate("0/s").error, HasSubstr("between 1/h and 1000000/s"));
    EXPECT_FALSE(parse_rate("-5/s").value);
    EXPECT_FALSE(parse_rate("/s").value);
    EXPECT_FALSE(parse_rate("2000000/s").value);
}

TEST(FormatDuration, UsesTheLargestExactUnit) {
    EXPECT_EQ(format_duration(Duration(1500)), "1500ms");
    EXPECT_EQ(format_duration(Duration(120000)), "2min");
    EXPECT_EQ(format_duration(std::chrono::hours(48)), "2d");
}

TEST(ExpandEnv, SubstitutesVariablesAndDefaults) {
    const Environment env{{"A", "alpha"}, {"E", ""}};
    EXPECT_EQ(expand_env("x${A}y", env).text, "xalphay");
    EXPECT_EQ(expand_env("${B:-beta}", env).text, "beta");
    EXPECT_EQ(expand_env("${E:-dflt}", env).text, "dflt");
    EXPECT_EQ(expand_env("${E}", env).text, "");
    EXPECT_EQ(expand_env("${B:-}", env).text, "");
    EXPECT_THAT(expand_env("${A}", env).problems, IsEmpty());
}

TEST(ExpandEnv, LeavesDollarQuotesAndPositionalParametersAlone) {
    const auto e = expand_env("DO $$ SELECT $1 $$; $tag$ x $tag$ $", {});
    EXPECT_EQ(e.text, "DO $$ SELECT $1 $$; $tag$ x $tag$ $");
    EXPECT_THAT(e.problems, IsEmpty());
}

TEST(ExpandEnv, MapsEveryOutputByteBackToItsSource) {
    const auto e = expand_env("ab${A}cd${B:-xy}", {{"A", "123"}});
    EXPECT_EQ(e.text, "ab123cdxy");
    EXPECT_EQ(e.origin, (std::vector<std::size_t>{0, 1, 2, 2, 2, 6, 7, 13, 14}));
}

TEST(ExpandEnv, ReportsUnsetUnterminatedAndInvalidNames) {
    const auto unset = expand_env("x ${MISSING} y", {});
    ASSERT_EQ(unset.problems.size(), 1u);
    EXPECT_EQ(unset.problems[0].offset, 2u);
    EXPECT_THAT(unset.problems[0].message, HasSubstr("'MISSING' is not set"));
    EXPECT_THAT(expand_env("${OPEN", {}).problems[0].message, HasSubstr("unterminated"));
    EXPECT_THAT(expand_env("${a-b}", {}).problems[0].message, HasSubstr("invalid"));
    EXPECT_EQ(expand_env("${X} ${Y}", {}).problems.size(), 2u);
}

TEST(Validate, ChecksNames) {
    EXPECT_EQ(check_name("order_summary2"), "");
    EXPECT_EQ(check_name("_x"), "");
    EXPECT_NE(check_name(""), "");
    EXPECT_NE(check_name("Orders"), "");
    EXPECT_NE(check_name("2orders"), "");
    EXPECT_NE(check_name("order-summary"), "");
    EXPECT_NE(check_name(std::string(max_name_length + 1, 'a')), "");
}

TEST(Validate, ChecksIdentifiers) {
    EXPECT_EQ(check_identifier("events", true), "");
    EXPECT_EQ(check_identifier("app.events", true), "");
    EXPECT_NE(check_identifier("app.events", false), "");
    EXPECT_NE(check_identifier("a.b.c", true), "");
    EXPECT_NE(check_identifier("events;", true), "");
    EXPECT_NE(check_identifier(".events", true), "");
}

TEST(Validate, ChecksWebhookUrls) {
    EXPECT_EQ(check_webhook_url("https://example.com/hook"), "");
    EXPECT_EQ(check_webhook_url("http://127.0.0.1:8080/x?y=z"), "");
    EXPECT_NE(check_webhook_url("ftp://example.com/"), "");
    EXPECT_NE(check_webhook_url("example.com/hook"), "");
    EXPECT_NE(check_webhook_url("https:///nohost"), "");
    EXPECT_NE(check_webhook_url("https://exa mple.com/"), "");
}

TEST(Validate, ChecksSecretsWithoutQuotingThem) {
    EXPECT_EQ(check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "");
    EXPECT_EQ(check_secret("whsec_dGVzdA=="), "");
    EXPECT_NE(check_secret("whsec_dGVzdA"), "");  // unpadded
    EXPECT_NE(check_secret("whsec_"), "");
    EXPECT_NE(check_secret("whsec_dGVzdA="), "");
    EXPECT_NE(check_secret("whsec_dG*zdA=="), "");
    const auto problem = check_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    EXPECT_THAT(problem, HasSubstr("whsec_"));
    EXPECT_THAT(problem, ::testing::Not(HasSubstr("MfKQ")));
}

TEST(Validate, ChecksListenAddresses) {
    EXPECT_EQ(check_listen("127.0.0.1:9464"), "");
    EXPECT_EQ(check_listen("localhost:0"), "");
    EXPECT_EQ(check_listen("[::1]:9464"), "");
    EXPECT_NE(check_listen("9464"), "");
    EXPECT_NE(check_listen(":9464"), "");
    EXPECT_NE(check_listen("::1:9464"), "");
    EXPECT_NE(check_listen("host:99999"), "");
    EXPECT_NE(check_listen("host:http"), "");
}

TEST(Validate, RejectsListenAddressesTheDaemonCouldNeverBind) {
    EXPECT_EQ(check_listen("0.0.0.0:9464"), "");
    EXPECT_EQ(check_listen("[::]:0"), "");
    EXPECT_THAT(check_listen("sluice.internal:9464"),
                HasSubstr("host 'sluice.internal' is not an IP address or localhost"));
    EXPECT_THAT(check_listen("[127.0.0.1]:9464"),
                HasSubstr("'[127.0.0.1]' is not an IPv6 address"));
    EXPECT_THAT(check_listen("[sluice]:9464"), HasSubstr("is not an IPv6 address"));
}

TEST(Validate, ChecksHeaders) {
    EXPECT_EQ(check_header("X-Tenant", "acme"), "");
    EXPECT_NE(check_header("Webhook-Signature", "v1,x"), "");
    EXPECT_NE(check_header("Bad Header", "x"), "");
    EXPECT_NE(check_header("X-A", "a\r\nInjected: 1"), "");
}

}  // namespace
}  // namespace sluice::config
