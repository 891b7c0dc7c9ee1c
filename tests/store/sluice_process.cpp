#include "sluice_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "test_database.hpp"

extern char** environ;

namespace sluice::testing {
namespace {

std::string temp_dir() {
    const char* t = std::getenv("TMPDIR");
    return t != nullptr && *t != '\0' ? t : "/tmp";
}

// posix_spawn_file_actions_t with RAII, so an early throw cannot leak it.
class FileActions {
  public:
    FileActions() { posix_spawn_file_actions_init(&actions_); }
    FileActions(const FileActions&) = delete;
    FileActions& operator=(const FileActions&) = delete;
    ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
    posix_spawn_file_actions_t* get() { return &actions_; }

  private:
    posix_spawn_file_actions_t actions_;
};

}  // namespace

TempFile::TempFile(const std::string& contents) {
    std::string pattern = temp_dir() + "/sluice-store-test.XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    int fd = ::mkstemp(buf.data());
    if (fd < 0)
        throw std::runtime_error("mkstemp failed: " + std::string(std::strerror(errno)));
    ::close(fd);
    path_ = buf.data();
    if (!contents.empty()) {
        std::ofstream f(path_, std::ios::binary | std::ios::trunc);
        f << contents;
        if (!f)
            throw std::runtime_error("cannot write " + path_);
    }
}

TempFile::TempFile(TempFile&& other) noexcept : path_(std::move(other.path_)) {
    other.path_.clear();
}

TempFile::~TempFile() {
    if (!path_.empty())
        ::unlink(path_.c_str());
}

std::string TempFile::read() const {
    std::ifstream f(path_, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

SluiceProcess SluiceProcess::start(const std::vector<std::string>& args) {
    std::string binary = sluice_binary();
    TempFile out;
    TempFile err;

    std::vector<std::string> argv_text = {binary};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_text)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "DATABASE_URL=", 13) != 0)
            envp.push_back(*e);
    }
    envp.push_back(nullptr);

    FileActions actions;
    posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(actions.get(), 1, out.path().c_str(), O_WRONLY | O_TRUNC, 0);
    posix_spawn_file_actions_addopen(actions.get(), 2, err.path().c_str(), O_WRONLY | O_TRUNC, 0);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, binary.c_str(), actions.get(), nullptr, argv.data(), envp.data());
    if (rc != 0)
        throw std::runtime_error("cannot start " + binary + ": " + std::strerror(rc));
    return SluiceProcess(pid, std::move(out), std::move(err));
}

SluiceProcess::SluiceProcess(SluiceProcess&& other) noexcept
    : pid_(other.pid_), out_(std::move(other.out_)), err_(std::move(other.err_)) {
    other.pid_ = 0;
}

SluiceProcess::~SluiceProcess() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

ProcessResult SluiceProcess::wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0)
        throw std::runtime_error("process already waited for");
    int status = 0;
    bool exited = wait_until(
        [&] {
            pid_t r = ::waitpid(pid_, &status, WNOHANG);
            return r == pid_ || (r < 0 && errno != EINTR);
        },
        timeout);
    ProcessResult result;
    if (!exited) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = 0;
        result.out = out_.read();
        result.err = err_.read() + "\n[test: sluice did not exit within " +
                     std::to_string(timeout.count()) + " ms and was killed]";
        return result;
    }
    pid_ = 0;
    if (WIFEXITED(status))
        result.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        result.exit_code = 128 + WTERMSIG(status);
    result.out = out_.read();
    result.err = err_.read();
    return result;
}

ProcessResult run_sluice(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    return SluiceProcess::start(args).wait(timeout);
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        out.push_back(line);
    return out;
}

}  // namespace sluice::testing
