// Appends Tick events from its own thread while a daemon works (the service suites' load).
// Thread-safety: the public members are called from the test thread; the writer thread only
// touches the atomics and error_ (read after stop()). Error policy: a database failure ends the
// writer and is reported by error() and wait_appended().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace sluice::testing {

// Appends Tick events continuously (a few per transaction) on its own connection and thread
// until stop() or `limit` events. Pacing keeps the volume moderate; it is load shape, not
// synchronisation.
class EventWriter {
  public:
    EventWriter(std::string url, std::int64_t limit = 200000, int per_transaction = 5);
    EventWriter(const EventWriter&) = delete;
    EventWriter& operator=(const EventWriter&) = delete;
    ~EventWriter();

    // Stops appending and joins the thread; returns the number of events committed.
    std::int64_t stop();
    [[nodiscard]] std::int64_t appended() const { return appended_.load(); }
    // Waits until at least `count` events are committed; false on timeout or writer failure.
    [[nodiscard]] bool wait_appended(std::int64_t count, std::chrono::milliseconds timeout) const;
    // The writer's failure, if it failed (read after stop()).
    [[nodiscard]] const std::string& error() const { return error_; }

  private:
    void run();

    std::string url_;
    std::int64_t limit_;
    int per_transaction_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> failed_{false};
    std::atomic<std::int64_t> appended_{0};
    std::string error_;  // written by the thread, read after join
    // Last: the thread uses everything above.
    std::thread thread_;
};

}  // namespace sluice::testing
