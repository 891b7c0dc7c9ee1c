#include "infra/metrics/process_metrics.hpp"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <vector>

namespace sluice::metrics {

namespace {

std::vector<std::string_view> split_whitespace(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) {
            ++i;
        }
        const std::size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') {
            ++i;
        }
        if (i > start) {
            out.push_back(text.substr(start, i - start));
        }
    }
    return out;
}

std::optional<std::uint64_t> to_u64(std::string_view text) {
    std::uint64_t value = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec != std::errc{} || result.ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

std::optional<ProcStat> parse_proc_pid_stat(std::string_view text) {
    // "pid (comm) state ppid ...": comm is free text, so fields are counted after the last ')'.
    const std::size_t close = text.rfind(')');
    if (close == std::string_view::npos) {
        return std::nullopt;
    }
    const auto fields = split_whitespace(text.substr(close + 1));
    // fields[0] is field 3 (state); field N of proc(5) is fields[N - 3].
    constexpr std::size_t utime = 14 - 3, stime = 15 - 3, starttime = 22 - 3, vsize = 23 - 3,
                          rss = 24 - 3;
    if (fields.size() <= rss) {
        return std::nullopt;
    }
    const auto u = to_u64(fields[utime]);
    const auto s = to_u64(fields[stime]);
    const auto st = to_u64(fields[starttime]);
    const auto vs = to_u64(fields[vsize]);
    const auto r = to_u64(fields[rss]);  // signed in the kernel, never negative in practice
    if (!u || !s || !st || !vs || !r) {
        return std::nullopt;
    }
    return ProcStat{*u, *s, *st, *vs, *r};
}

std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat) {
    std::size_t pos = 0;
    while (pos < proc_stat.size()) {
        std::size_t end = proc_stat.find('\n', pos);
        if (end == std::string_view::npos) {
            end = proc_stat.size();
        }
        const std::string_view line = proc_stat.substr(pos, end - pos);
        if (line.starts_with("btime ")) {
            const auto fields = split_whitespace(line);
            return fields.size() == 2 ? to_u64(fields[1]) : std::nullopt;
        }
        pos = end + 1;
    }
    return std::nullopt;
}

std::optional<std::uint64_t> parse_max_open_files(std::string_view limits) {
    constexpr std::string_view key = "Max open files";
    const std::size_t at = limits.find(key);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    std::size_t end = limits.find('\n', at);
    if (end == std::string_view::npos) {
        end = limits.size();
    }
    const auto fields = split_whitespace(limits.substr(at + key.size(), end - at - key.size()));
    return fields.empty() ? std::nullopt : to_u64(fields[0]);  // "unlimited" -> nullopt
}

std::optional<std::string> read_proc_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) {
        return std::nullopt;
    }
    return std::move(buffer).str();
}

namespace {

struct ProcessGauges {
    Counter& cpu_seconds;
    Gauge& resident_bytes;
    Gauge& virtual_bytes;
    Gauge& open_fds;
    Gauge& max_fds;
    double ticks_per_second;
    double page_size;

    void refresh() const {
        if (const auto text = read_proc_file("/proc/self/stat")) {
            if (const auto stat = parse_proc_pid_stat(*text)) {
                cpu_seconds.set_total(static_cast<double>(stat->utime_ticks + stat->stime_ticks) /
                                      ticks_per_second);
                resident_bytes.set(static_cast<double>(stat->rss_pages) * page_size);
                virtual_bytes.set(static_cast<double>(stat->vsize_bytes));
            }
        }
        std::error_code ec;
        std::size_t fds = 0;
        for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
             it.increment(ec)) {
            ++fds;
        }
        if (!ec) {
            open_fds.set(static_cast<double>(fds));
        }
        if (const auto limits = read_proc_file("/proc/self/limits")) {
            if (const auto max = parse_max_open_files(*limits)) {
                max_fds.set(static_cast<double>(*max));
            }
        }
    }
};

}  // namespace

void register_process_metrics(Registry& registry) {
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    auto& start = registry
                      .add_gauge("process_start_time_seconds",
                                 "Start time of the process since unix epoch in seconds.")
                      .with({});
    auto gauges = std::make_shared<ProcessGauges>(ProcessGauges{
        registry
            .add_counter("process_cpu_seconds_total",
                         "Total user and system CPU time spent in seconds.")
            .with({}),
        registry.add_gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
            .with({}),
        registry.add_gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
            .with({}),
        registry.add_gauge("process_open_fds", "Number of open file descriptors.").with({}),
        registry.add_gauge("process_max_fds", "Maximum number of open file descriptors.").with({}),
        ticks > 0 ? ticks : 100, page > 0 ? page : 4096});

    // The start time never changes: computed once here rather than on every scrape.
    const auto stat_text = read_proc_file("/proc/self/stat");
    const auto boot_text = read_proc_file("/proc/stat");
    if (stat_text && boot_text) {
        const auto stat = parse_proc_pid_stat(*stat_text);
        const auto boot = parse_boot_time(*boot_text);
        if (stat && boot) {
            start.set(static_cast<double>(*boot) +
                      static_cast<double>(stat->start_ticks) / gauges->ticks_per_second);
        }
    }
    gauges->refresh();
    registry.add_collect_hook([gauges] { gauges->refresh(); });
}

}  // namespace sluice::metrics
