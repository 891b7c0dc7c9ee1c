// The standard process_* metrics, read from /proc at scrape time through a collect hook:
// process_start_time_seconds, process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds.
// The parsers are pure; only read_proc_file() and register_process_metrics() touch /proc.
// Error policy: nothing throws at scrape time; an unreadable or unparsable /proc file leaves
// the affected gauges at their previous value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "infra/metrics/registry.hpp"

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

// Registers the process_* gauges and the hook that refreshes them from /proc/self.
void register_process_metrics(Registry& registry);

}  // namespace sluice::metrics
