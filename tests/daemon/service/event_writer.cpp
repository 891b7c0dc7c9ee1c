#include "event_writer.hpp"

#include "daemon_fixture.hpp"

namespace sluice::testing {

EventWriter::EventWriter(std::string url, std::int64_t limit, int per_transaction)
    : url_(std::move(url)),
      limit_(limit),
      per_transaction_(per_transaction),
      thread_([this] { run(); }) {}

EventWriter::~EventWriter() {
    stop();
}

std::int64_t EventWriter::stop() {
    stop_ = true;
    if (thread_.joinable())
        thread_.join();
    return appended_.load();
}

bool EventWriter::wait_appended(std::int64_t count, std::chrono::milliseconds timeout) const {
    return wait_until([&] { return appended_.load() >= count || failed_.load(); }, timeout) &&
           !failed_.load();
}

void EventWriter::run() {
    try {
        auto conn = pg::Connection::open(url_, 10, "service test writer");
        while (!stop_ && appended_.load() < limit_) {
            conn.exec(append_ticks_sql, pg::Params(appended_.load() + 1,
                                                   static_cast<std::int64_t>(per_transaction_)));
            appended_ += per_transaction_;
            // Pacing: about a thousand events a second, so that a run stays small.
            std::this_thread::sleep_for(std::chrono::milliseconds(4));
        }
    } catch (const std::exception& e) {
        error_ = e.what();
        failed_ = true;
    }
}

}  // namespace sluice::testing
