#include "infra/metrics/process_metrics.hpp"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
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

prometheus::MetricFamily gauge_family(std::string name, std::string help, double value) {
    prometheus::ClientMetric metric;
    metric.gauge.value = value;
    return {std::move(name), std::move(help), prometheus::MetricType::Gauge, {metric}};
}

std::optional<std::size_t> count_open_fds() {
    std::error_code ec;
    std::size_t fds = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
        ++fds;
    }
    return ec ? std::nullopt : std::optional(fds);
}

}  // namespace

ProcessCollector::ProcessCollector() {
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    ticks_per_second_ = ticks > 0 ? ticks : 100;
    page_size_ = page > 0 ? page : 4096;
    const auto stat_text = read_proc_file("/proc/self/stat");
    const auto boot_text = read_proc_file("/proc/stat");
    if (stat_text && boot_text) {
        const auto stat = parse_proc_pid_stat(*stat_text);
        const auto boot = parse_boot_time(*boot_text);
        if (stat && boot) {
            start_time_seconds_ = static_cast<double>(*boot) +
                                  static_cast<double>(stat->start_ticks) / ticks_per_second_;
        }
    }
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
    std::vector<prometheus::MetricFamily> out;
    if (start_time_seconds_) {
        out.push_back(gauge_family("process_start_time_seconds",
                                   "Start time of the process since unix epoch in seconds.",
                                   *start_time_seconds_));
    }
    const auto text = read_proc_file("/proc/self/stat");
    if (const auto stat = text ? parse_proc_pid_stat(*text) : std::nullopt) {
        prometheus::ClientMetric cpu;
        cpu.counter.value =
            static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks_per_second_;
        out.push_back({"process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.",
                       prometheus::MetricType::Counter,
                       {cpu}});
        out.push_back(gauge_family("process_resident_memory_bytes",
                                   "Resident memory size in bytes.",
                                   static_cast<double>(stat->rss_pages) * page_size_));
        out.push_back(gauge_family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                   static_cast<double>(stat->vsize_bytes)));
    }
    if (const auto fds = count_open_fds()) {
        out.push_back(gauge_family("process_open_fds", "Number of open file descriptors.",
                                   static_cast<double>(*fds)));
    }
    const auto limits = read_proc_file("/proc/self/limits");
    if (const auto max = limits ? parse_max_open_files(*limits) : std::nullopt) {
        out.push_back(gauge_family("process_max_fds", "Maximum number of open file descriptors.",
                                   static_cast<double>(*max)));
    }
    return out;
}

}  // namespace sluice::metrics
