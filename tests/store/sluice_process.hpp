// Runs the sluice binary under test (SLUICE_BINARY) as a child process with its stdout and
// stderr captured in temporary files, so tests can pin exit codes and exact messages.
// The child gets the test's environment minus DATABASE_URL: every test names its database.
// Error policy: failures to start or capture throw std::runtime_error; a child that outlives
// its deadline is killed and reported with exit_code -1 and a note in err.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace sluice::testing {

// A file in $TMPDIR (or /tmp), removed in the destructor.
class TempFile {
  public:
    explicit TempFile(const std::string& contents = {});
    TempFile(TempFile&& other) noexcept;
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile();

    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] std::string read() const;

  private:
    std::string path_;
};

struct ProcessResult {
    int exit_code = -1;  // 128 + signal when the child was killed by a signal
    std::string out;
    std::string err;
};

// A started `sluice <args...>`; the destructor kills it if it was never waited for.
class SluiceProcess {
  public:
    [[nodiscard]] static SluiceProcess start(const std::vector<std::string>& args);
    SluiceProcess(SluiceProcess&& other) noexcept;
    SluiceProcess(const SluiceProcess&) = delete;
    SluiceProcess& operator=(const SluiceProcess&) = delete;
    ~SluiceProcess();

    // Waits at most `timeout` for the child to exit.
    [[nodiscard]] ProcessResult wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  private:
    SluiceProcess(pid_t pid, TempFile out, TempFile err)
        : pid_(pid), out_(std::move(out)), err_(std::move(err)) {}
    pid_t pid_;
    TempFile out_;
    TempFile err_;
};

// Starts `sluice <args...>` and waits for it.
[[nodiscard]] ProcessResult run_sluice(
    const std::vector<std::string>& args,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The lines of `text`, without their newlines.
[[nodiscard]] std::vector<std::string> lines_of(const std::string& text);

}  // namespace sluice::testing
