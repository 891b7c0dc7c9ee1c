// The log line format: logfmt fields, quoting, and the timestamp that leads every line that does
// not go to the journal (the journal stamps lines itself; there a priority prefix leads).
#include <gtest/gtest.h>

#include "infra/log/log.hpp"

namespace sluice::log {
namespace {

using namespace std::chrono;

// 2026-11-23T12:00:00.042Z
const system_clock::time_point noon_and_42ms =
    sys_days{year{2026} / November / 23} + hours{12} + milliseconds{42};

TEST(LogTimestamp, IsRfc3339UtcToTheMillisecond) {
    EXPECT_EQ(rfc3339_utc(noon_and_42ms), "2026-11-23T12:00:00.042Z");
    EXPECT_EQ(rfc3339_utc(sys_days{year{1999} / December / 31} + hours{23} + minutes{59} +
                          seconds{59} + microseconds{999999}),
              "1999-12-31T23:59:59.999Z");
    EXPECT_EQ(rfc3339_utc(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
}

TEST(LogLine, OutsideTheJournalStartsWithItsTimestamp) {
    EXPECT_EQ(format_line(Level::warn, "handler failed", {{"projection", "p"}, {"event_id", 42}},
                          false, noon_and_42ms),
              "ts=2026-11-23T12:00:00.042Z level=warn projection=p event_id=42 "
              "msg=\"handler failed\"");
}

TEST(LogLine, UnderTheJournalCarriesThePriorityAndNoTimestamp) {
    EXPECT_EQ(format_line(Level::error, "stopped", {{"error", "a \"b\"\n"}}, true, noon_and_42ms),
              "<3>level=error error=\"a \\\"b\\\"\\n\" msg=stopped");
}

}  // namespace
}  // namespace sluice::log
