// Live traffic beside a catch-up: a thread that appends orders-like events on its own
// connection until stopped. Each transaction creates a new order (versions 1..3) and appends
// two more versions to the previous one, so an aggregate's events span transactions (and
// batches); every third order ends with OrderShipped. The writer survives a database restart:
// a failed transaction is abandoned (it may or may not have committed; checks compare against
// the events table, never against this writer's counts) and the connection is reopened.
// Pacing between transactions is load shape, not synchronisation.
// Thread-safety: stop() and the counters may be called from the test thread.
// Error policy: never throws; failures are counted and the last one kept for messages.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace sluice::testing::fault {

class OrderWriter {
  public:
    explicit OrderWriter(std::string url,
                         std::chrono::milliseconds pause = std::chrono::milliseconds(20));
    OrderWriter(const OrderWriter&) = delete;
    OrderWriter& operator=(const OrderWriter&) = delete;
    ~OrderWriter();

    // Stops appending and joins the thread (idempotent).
    void stop();
    [[nodiscard]] std::int64_t transactions() const { return transactions_.load(); }
    [[nodiscard]] std::int64_t failures() const { return failures_.load(); }
    [[nodiscard]] std::string last_error() const;

  private:
    void run();

    std::string url_;
    std::chrono::milliseconds pause_;
    std::atomic<std::int64_t> transactions_{0};
    std::atomic<std::int64_t> failures_{0};
    mutable std::mutex mutex_;
    std::condition_variable stopping_;
    bool stop_ = false;       // guarded by mutex_
    std::string last_error_;  // guarded by mutex_
    // Declared last: the thread uses everything above and is joined first.
    std::thread thread_;
};

}  // namespace sluice::testing::fault
