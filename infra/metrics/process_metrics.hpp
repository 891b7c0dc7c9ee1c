// The standard process_* metrics, read from /proc at scrape time by a prometheus::Collectable:
// process_start_time_seconds, process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds.
// The parsers are pure; only read_proc_file() and ProcessCollector touch /proc.
// Thread-safety: Collect() keeps no state, so scrapes may run it concurrently from any thread.
// Error policy: nothing throws at scrape time (except std::bad_alloc); a metric whose /proc
// file cannot be read or parsed is left out of that scrape.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::metrics {

// The fields of /proc/<pid>/stat that the process metrics need (see proc(5)).
struct ProcStat {
    std::uint64_t utime_ticks = 0;
    std::uint64_t stime_ticks = 0;
    std::uint64_t start_ticks = 0;  // since boot
    std::uint64_t vsize_bytes = 0;
    std::uint64_t rss_pages = 0;
};

// Parses /proc/<pid>/stat; the command name may contain spaces and parentheses.
[[nodiscard]] std::optional<ProcStat> parse_proc_pid_stat(std::string_view text);
// The "btime" line of /proc/stat: boot time in seconds since the epoch.
[[nodiscard]] std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat);
// The soft limit of "Max open files" in /proc/<pid>/limits; nullopt when unlimited or absent.
[[nodiscard]] std::optional<std::uint64_t> parse_max_open_files(std::string_view limits);

// Whole file, or nullopt when it cannot be read. /proc files are small and in memory.
[[nodiscard]] std::optional<std::string> read_proc_file(const std::string& path);

// This process's process_* metrics, read from /proc/self on every Collect().
class ProcessCollector final : public prometheus::Collectable {
  public:
    ProcessCollector();

    [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    double ticks_per_second_;
    double page_size_;
    std::optional<double> start_time_seconds_;  // never changes: read once
};

}  // namespace sluice::metrics
