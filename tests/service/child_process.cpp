#include "child_process.hpp"

#include <fcntl.h>
#include <spawn.h>
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
#include <string_view>
#include <thread>
#include <utility>

extern char** environ;

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds poll_every{5};

bool service_manager_variable(std::string_view name) {
    return name == "NOTIFY_SOCKET" || name == "JOURNAL_STREAM" || name == "WATCHDOG_USEC" ||
           name == "WATCHDOG_PID" || name == "LISTEN_FDS" || name == "LISTEN_PID";
}

std::string make_log_file() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/sluice-child-XXXXXX";
    int fd = mkstemp(pattern.data());
    if (fd < 0)
        throw std::runtime_error("cannot create a temp file for a child's output: " +
                                 std::string(std::strerror(errno)));
    ::close(fd);
    return pattern;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace

std::vector<std::string> child_environment(const Environment& extra) {
    std::map<std::string, std::string> vars;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view entry(*e);
        auto eq = entry.find('=');
        if (eq == std::string_view::npos || service_manager_variable(entry.substr(0, eq)))
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

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv, const Environment& env) {
    if (argv.empty())
        throw std::invalid_argument("ChildProcess::spawn: empty argv");
    std::string log_path = make_log_file();
    std::vector<std::string> args = argv;
    std::vector<std::string> envs = child_environment(env);
    auto arg_ptrs = pointers(args);
    auto env_ptrs = pointers(envs);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_APPEND,
                                     0);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
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
    int rc = posix_spawn(&pid, args[0].c_str(), &actions, &attr, arg_ptrs.data(), env_ptrs.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        ::unlink(log_path.c_str());
        throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(rc));
    }
    return ChildProcess(pid, std::move(log_path));
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      log_path_(std::move(other.log_path_)),
      exit_(other.exit_) {
    other.log_path_.clear();
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && !exit_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (log_path_.empty())
        return;
    if (::testing::Test::HasFailure()) {
        std::cerr << "output of child " << pid_ << " kept in " << log_path_ << "\n";
    } else {
        ::unlink(log_path_.c_str());
    }
}

bool ChildProcess::running() {
    if (exit_ || pid_ <= 0)
        return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0)
        return true;
    if (r < 0) {
        if (errno == EINTR)
            return true;
        exit_ = ExitStatus{};
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

std::string ChildProcess::output() const {
    std::ifstream in(log_path_, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string ChildProcess::output_tail(std::size_t lines) const {
    std::string all = output();
    std::size_t pos = all.size();
    for (std::size_t n = 0; n <= lines && pos > 0; ++n) {
        auto nl = all.rfind('\n', pos - 1);
        pos = nl == std::string::npos ? 0 : nl;
    }
    return "--- output of " + std::to_string(pid_) + " ---\n" + all.substr(pos);
}

void ChildProcess::kill(int signal) {
    if (pid_ > 0 && running())
        ::kill(pid_, signal);
}

std::optional<ExitStatus> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (running()) {
        if (Clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(poll_every);
    }
    return exit_;
}

ExitStatus ChildProcess::terminate(std::chrono::milliseconds grace) {
    kill(SIGTERM);
    if (auto e = wait_exit(grace))
        return *e;
    kill(SIGKILL);
    auto e = wait_exit(std::chrono::seconds(10));
    return e.value_or(ExitStatus{});
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const Environment& env) {
    auto child = ChildProcess::spawn(argv, env);
    auto status = child.wait_exit(timeout);
    if (!status) {
        status = child.terminate(std::chrono::milliseconds(100));
        return {*status, child.output() + "\n[" + argv[0] + " killed: still running after " +
                             std::to_string(timeout.count()) + " ms]"};
    }
    return {*status, child.output()};
}

}  // namespace sluice::testing
