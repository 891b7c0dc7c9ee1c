#include "order_writer.hpp"

#include <optional>

#include "infra/pg/connection.hpp"

namespace sluice::testing::fault {
namespace {

// $1: the new order's number, $2: the previous order's number (0: none). One statement, one
// transaction: the new order's versions 1..3, then versions max+1, max+2 of the previous one.
const char* append_sql = R"SQL(
INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload)
SELECT md5('live-' || $1::bigint)::uuid, 'Order', v,
       CASE WHEN v = 1 THEN 'OrderCreated' ELSE 'ItemAdded' END,
       jsonb_build_object('order', $1::bigint, 'v', v)
  FROM generate_series(1, 3) v
UNION ALL
SELECT md5('live-' || $2::bigint)::uuid, 'Order', prev.v + k,
       CASE WHEN k = 2 AND $2::bigint % 3 = 0 THEN 'OrderShipped' ELSE 'ItemAdded' END,
       jsonb_build_object('order', $2::bigint, 'v', prev.v + k)
  FROM (SELECT max(version) AS v FROM events
         WHERE aggregate_id = md5('live-' || $2::bigint)::uuid) prev,
       generate_series(1, 2) k
 WHERE prev.v IS NOT NULL
)SQL";

}  // namespace

OrderWriter::OrderWriter(std::string url, std::chrono::milliseconds pause)
    : url_(std::move(url)), pause_(pause), thread_([this] { run(); }) {}

OrderWriter::~OrderWriter() {
    stop();
}

void OrderWriter::stop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    stopping_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

std::string OrderWriter::last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
}

void OrderWriter::run() {
    std::optional<pg::Connection> conn;
    std::int64_t order = 0;
    while (true) {
        {
            std::unique_lock lock(mutex_);
            if (stopping_.wait_for(lock, pause_, [this] { return stop_; }))
                return;
        }
        try {
            if (!conn)
                conn.emplace(pg::Connection::open(url_, 5, "fault order writer"));
            ++order;
            conn->exec(append_sql, pg::Params(order, order - 1));
            ++transactions_;
        } catch (const std::exception& e) {
            conn.reset();  // reopened on the next round (the server may be restarting)
            ++failures_;
            std::lock_guard lock(mutex_);
            last_error_ = e.what();
        }
    }
}

}  // namespace sluice::testing::fault
