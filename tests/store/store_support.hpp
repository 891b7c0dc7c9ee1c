// Helpers shared by the store suites: the seed's table as the application created it, catalog
// snapshots to compare schemas, row checksums and a bounded notification counter.
// Error policy: database failures throw pg::Error (failing the test); waits are bounded and
// report what they were waiting for.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "infra/pg/connection.hpp"

namespace sluice::testing {

// The seed application's CREATE TABLE events (id SERIAL) and its two indexes, verbatim.
extern const char* const seed_events_sql;

// One line per column, default, index, constraint, trigger and function of public.events and
// the sluice schema, plus the recorded migrations; sorted, so equal schemas compare equal.
[[nodiscard]] std::string schema_snapshot(pg::Connection& conn);

// md5 over every original seed column of every row, in id order, and the row count.
struct RowsChecksum {
    std::int64_t rows = 0;
    std::string md5;
    bool operator==(const RowsChecksum&) const = default;
};
[[nodiscard]] RowsChecksum seed_columns_checksum(pg::Connection& conn);

[[nodiscard]] std::int64_t count_events(pg::Connection& conn);

// LISTENs on `channel` and on a private sentinel channel. count_until_sentinel() sends a
// NOTIFY on the sentinel from `sender` and counts the notifications on `channel` that arrive
// before it: notifications are delivered in commit order, so anything the sender committed
// earlier has arrived by then, without sleeping for it.
class NotificationCounter {
  public:
    NotificationCounter(pg::Connection& listener, std::string channel);
    [[nodiscard]] int count_until_sentinel(pg::Connection& sender,
                                           std::chrono::milliseconds timeout);

  private:
    pg::Connection& listener_;
    std::string channel_;
    std::string sentinel_;
};

}  // namespace sluice::testing
