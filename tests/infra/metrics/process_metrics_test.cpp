#include "infra/metrics/process_metrics.hpp"

#include <gtest/gtest.h>

namespace sluice::metrics {
namespace {

// A real /proc/<pid>/stat line with a command name holding spaces and a ')'.
constexpr std::string_view stat_line =
    "4242 (sluice (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 50 0 0 20 0 3 0 "
    "987654 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ParseProcPidStat, CountsFieldsAfterTheLastParenthesis) {
    const auto stat = parse_proc_pid_stat(stat_line);
    ASSERT_TRUE(stat);
    EXPECT_EQ(stat->utime_ticks, 150u);
    EXPECT_EQ(stat->stime_ticks, 50u);
    EXPECT_EQ(stat->start_ticks, 987654u);
    EXPECT_EQ(stat->vsize_bytes, 123456789u);
    EXPECT_EQ(stat->rss_pages, 2048u);
}

TEST(ParseProcPidStat, RejectsTruncatedInput) {
    EXPECT_FALSE(parse_proc_pid_stat("4242 (sluice) S 1 2 3"));
    EXPECT_FALSE(parse_proc_pid_stat("no parenthesis"));
}

TEST(ParseBootTime, FindsTheBtimeLine) {
    EXPECT_EQ(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"),
              std::optional<std::uint64_t>(1700000000));
    EXPECT_FALSE(parse_boot_time("cpu 1 2 3\n"));
}

TEST(ParseMaxOpenFiles, ReadsTheSoftLimitAndTreatsUnlimitedAsAbsent) {
    constexpr std::string_view limits =
        "Limit                     Soft Limit           Hard Limit           Units     \n"
        "Max processes             63459                63459                processes \n"
        "Max open files            1024                 524288               files     \n";
    EXPECT_EQ(parse_max_open_files(limits), std::optional<std::uint64_t>(1024));
    EXPECT_FALSE(parse_max_open_files(
        "Max open files            unlimited            unlimited            files\n"));
}

TEST(ProcessCollector, ReportsThisProcessFromProc) {
    const ProcessCollector collector;
    double start = 0, cpu = -1, rss = 0, fds = 0;
    for (const auto& family : collector.Collect()) {
        const auto& metric = family.metric.at(0);
        if (family.name == "process_start_time_seconds") {
            start = metric.gauge.value;
        } else if (family.name == "process_cpu_seconds_total") {
            EXPECT_EQ(family.type, prometheus::MetricType::Counter);
            cpu = metric.counter.value;
        } else if (family.name == "process_resident_memory_bytes") {
            rss = metric.gauge.value;
        } else if (family.name == "process_open_fds") {
            fds = metric.gauge.value;
        }
    }
    EXPECT_GT(start, 1.5e9);  // after 2017: the boot time and start ticks were combined
    EXPECT_GE(cpu, 0);
    EXPECT_GT(rss, 0);
    EXPECT_GE(fds, 3);  // at least stdin, stdout, stderr
}

}  // namespace
}  // namespace sluice::metrics
