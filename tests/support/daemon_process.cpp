#include "daemon_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "test_database.hpp"

extern char** environ;

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds poll_every{5};
constexpr std::size_t max_response_bytes = 4 * 1024 * 1024;

// Variables that would make the child talk to the test runner's service manager or journal.
bool inherited_but_unwanted(std::string_view name) {
    return name == "NOTIFY_SOCKET" || name == "JOURNAL_STREAM" || name == "WATCHDOG_USEC" ||
           name == "WATCHDOG_PID" || name == "LISTEN_FDS" || name == "LISTEN_PID";
}

std::vector<std::string> child_environment(const Environment& extra) {
    std::map<std::string, std::string> vars;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view entry(*e);
        auto eq = entry.find('=');
        if (eq == std::string_view::npos || inherited_but_unwanted(entry.substr(0, eq)))
            continue;
        vars[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    }
    for (const auto& [name, value] : extra)
        vars[name] = value;
    std::vector<std::string> out;
    for (const auto& [name, value] : vars)
        out.push_back(name + "=" + value);
    return out;
}

std::string make_log_file() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/sluice-daemon-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    int fd = mkstemp(buf.data());
    if (fd < 0)
        throw std::runtime_error("cannot create a temp file for the daemon's output: " +
                                 std::string(std::strerror(errno)));
    ::close(fd);
    return buf.data();
}

// Closes the socket on every path out of http_get.
struct Socket {
    int fd;
    ~Socket() {
        if (fd >= 0)
            ::close(fd);
    }
};

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return false;
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            throw std::runtime_error("poll failed: " + std::string(std::strerror(errno)));
    }
}

// The response is complete when the headers are in and the Content-Length body follows.
bool response_complete(const std::string& data) {
    auto end = data.find("\r\n\r\n");
    if (end == std::string::npos)
        return false;
    std::string head = data.substr(0, end);
    for (auto& c : head)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto cl = head.find("\r\ncontent-length:");
    if (cl == std::string::npos)
        return false;  // read until the server closes
    std::size_t length = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
    return data.size() >= end + 4 + length;
}

HttpResponse parse_response(const std::string& data, const std::string& path) {
    auto end = data.find("\r\n\r\n");
    if (!data.starts_with("HTTP/1.") || end == std::string::npos || data.size() < 12)
        throw std::runtime_error("GET " + path +
                                 ": malformed HTTP response: " + data.substr(0, 200));
    HttpResponse r;
    r.status = std::atoi(data.c_str() + 9);
    r.body = data.substr(end + 4);
    return r;
}

}  // namespace

std::string ExitStatus::describe() const {
    if (exited)
        return "exit code " + std::to_string(code);
    return "signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

HttpResponse http_get(unsigned short port, const std::string& path,
                      std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::string where = "GET http://127.0.0.1:" + std::to_string(port) + path;
    Socket s{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    if (s.fd < 0)
        throw std::runtime_error(where + ": socket: " + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EINPROGRESS)
            throw std::runtime_error(where + ": connect: " + std::strerror(errno));
        if (!wait_fd(s.fd, POLLOUT, deadline))
            throw std::runtime_error(where + ": connect timed out");
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0)
            throw std::runtime_error(where + ": connect: " + std::strerror(err));
    }
    std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    std::size_t sent = 0;
    while (sent < request.size()) {
        if (!wait_fd(s.fd, POLLOUT, deadline))
            throw std::runtime_error(where + ": sending the request timed out");
        ssize_t n = ::send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            throw std::runtime_error(where + ": send: " + std::strerror(errno));
        if (n > 0)
            sent += static_cast<std::size_t>(n);
    }
    std::string data;
    char buf[16384];
    while (!response_complete(data)) {
        if (!wait_fd(s.fd, POLLIN, deadline))
            throw std::runtime_error(where + ": no complete response within " +
                                     std::to_string(timeout.count()) + " ms (got " +
                                     std::to_string(data.size()) + " bytes)");
        ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
        if (n == 0)
            break;  // closed: whatever we have is the response
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            throw std::runtime_error(where + ": recv: " + std::strerror(errno));
        }
        data.append(buf, static_cast<std::size_t>(n));
        if (data.size() > max_response_bytes)
            throw std::runtime_error(where + ": response larger than 4 MiB");
    }
    return parse_response(data, path);
}

DaemonProcess DaemonProcess::start(const std::string& config_path, const Environment& env) {
    return spawn({"run", "--config", config_path}, env);
}

DaemonProcess DaemonProcess::spawn(const std::vector<std::string>& args, const Environment& env) {
    std::vector<std::string> argv{sluice_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return spawn_program(argv, env);
}

DaemonProcess DaemonProcess::spawn_program(const std::vector<std::string>& argv_strings,
                                           const Environment& env) {
    const std::string& binary = argv_strings.at(0);
    std::string log_path = make_log_file();
    std::vector<char*> argv;
    for (const auto& a : argv_strings)
        argv.push_back(const_cast<char*>(a.c_str()));  // posix_spawn does not modify them
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = child_environment(env);
    std::vector<char*> envp;
    for (auto& e : env_strings)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_APPEND,
                                     0);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    // The child starts with default signal dispositions and nothing blocked, whatever the
    // test runner did.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE})
        sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid = -1;
    int rc = posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        ::unlink(log_path.c_str());
        throw std::runtime_error("cannot start " + binary + ": " + std::strerror(rc));
    }
    return DaemonProcess(pid, std::move(log_path));
}

DaemonProcess::DaemonProcess(DaemonProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      log_path_(std::move(other.log_path_)),
      exit_(other.exit_),
      port_(other.port_) {
    other.log_path_.clear();
}

DaemonProcess::~DaemonProcess() {
    if (pid_ > 0 && !exit_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (log_path_.empty())
        return;
    if (::testing::Test::HasFailure()) {
        std::cerr << "sluice output (pid " << pid_ << ") kept in " << log_path_ << "\n";
    } else {
        ::unlink(log_path_.c_str());
    }
}

bool DaemonProcess::running() {
    if (exit_ || pid_ <= 0)
        return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0)
        return true;
    if (r < 0) {
        if (errno == EINTR)
            return true;
        exit_ = ExitStatus{};  // not our child any more; nothing left to wait for
        return false;
    }
    ExitStatus e;
    if (WIFEXITED(status)) {
        e.exited = true;
        e.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        e.signal = WTERMSIG(status);
    }
    exit_ = e;
    return false;
}

std::string DaemonProcess::output() const {
    std::ifstream in(log_path_, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string DaemonProcess::output_tail(std::size_t lines) const {
    std::string all = output();
    std::size_t pos = all.size();
    if (pos > 0 && all[pos - 1] == '\n')
        --pos;
    for (std::size_t n = 0; n < lines && pos > 0; ++n) {
        auto nl = all.rfind('\n', pos - 1);
        if (nl == std::string::npos) {
            pos = 0;
            break;
        }
        pos = nl;
    }
    return "--- sluice output (last " + std::to_string(lines) + " lines) ---\n" +
           all.substr(pos == 0 ? 0 : pos + 1);
}

std::size_t DaemonProcess::count_in_log(std::string_view needle) const {
    std::string all = output();
    std::size_t count = 0;
    for (auto pos = all.find(needle); pos != std::string::npos;
         pos = all.find(needle, pos + needle.size())) {
        ++count;
    }
    return count;
}

bool DaemonProcess::wait_for_log(std::string_view needle, std::chrono::milliseconds timeout,
                                 std::size_t occurrences) {
    auto deadline = Clock::now() + timeout;
    while (true) {
        // Check liveness first: a line written just before exiting still counts.
        bool alive = running();
        if (count_in_log(needle) >= occurrences)
            return true;
        if (!alive || Clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(poll_every);
    }
}

unsigned short DaemonProcess::http_port(std::chrono::milliseconds timeout) {
    if (port_)
        return *port_;
    const std::string marker = "msg=\"HTTP endpoint listening\"";
    if (!wait_for_log(marker, timeout)) {
        throw std::runtime_error(
            "sluice did not log " + marker + " within " + std::to_string(timeout.count()) +
            " ms (" + (running() ? "still running" : exit_->describe()) + ")\n" + output_tail());
    }
    std::string all = output();
    // logfmt puts msg last: the port is earlier on the same line.
    auto at = all.find(marker);
    auto line_start = all.rfind('\n', at);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    auto line_end = all.find('\n', at);
    // A leading space so that " port=" also matches a first field.
    std::string line = " " + all.substr(line_start, line_end - line_start);
    auto p = line.find(" port=");
    if (p == std::string::npos)
        throw std::runtime_error("no port= in the listening line:" + line);
    long port = std::strtol(line.c_str() + p + 6, nullptr, 10);
    if (port <= 0 || port > 65535)
        throw std::runtime_error("bad port in the listening line: " + line);
    port_ = static_cast<unsigned short>(port);
    return *port_;
}

HttpResponse DaemonProcess::http_get(const std::string& path, std::chrono::milliseconds timeout) {
    return testing::http_get(http_port(), path, timeout);
}

void DaemonProcess::kill(int signal) {
    if (pid_ > 0 && running())
        ::kill(pid_, signal);
}

std::optional<ExitStatus> DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (running()) {
        if (Clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(poll_every);
    }
    return exit_;
}

ExitStatus DaemonProcess::terminate(std::chrono::milliseconds grace) {
    kill(SIGTERM);
    if (auto e = wait_exit(grace))
        return *e;
    kill(SIGKILL);
    return wait_exit(std::chrono::seconds(10)).value_or(ExitStatus{});
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const Environment& env) {
    auto child = DaemonProcess::spawn_program(argv, env);
    auto status = child.wait_exit(timeout);
    if (!status) {
        status = child.terminate(std::chrono::milliseconds(100));
        return {*status, child.output() + "\n[" + argv[0] + " killed: still running after " +
                             std::to_string(timeout.count()) + " ms]"};
    }
    return {*status, child.output()};
}

std::string describe_for_failure(DaemonProcess& daemon, pg::Connection& conn) {
    std::string out = "sluice has exited\n";
    if (daemon.running()) {
        try {
            out = "/status: " + daemon.http_get("/status").body;
        } catch (const std::exception& e) {
            out = std::string("sluice runs; /status failed: ") + e.what() + "\n";
        }
    }
    try {
        auto r = conn.exec(
            "SELECT coalesce(string_agg(datname || '/' || application_name || ' xid ' || "
            "backend_xid::text || ' ' || state, ', '), 'none') FROM pg_stat_activity "
            "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()");
        out += "open transactions: " + std::string(r.text(0, 0)) + "\n";
    } catch (const std::exception& e) {
        out += std::string("pg_stat_activity failed: ") + e.what() + "\n";
    }
    return out + daemon.output_tail();
}

unsigned short free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        if (fd >= 0)
            ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace sluice::testing
