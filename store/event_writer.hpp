// The event writer: the seed's save_events/load_events done properly. Appends are atomic per
// aggregate with optimistic concurrency; a lost race is always a VersionConflict, never a raw
// SQL error. Blocking (pg::Connection): for tools, tests, the demo and benchmarks.
// Error policy: VersionConflict for concurrency, std::invalid_argument for bad input (checked
// before anything is sent), pg::Error for the database.
#pragma once

#include <string>
#include <vector>

#include "infra/pg/connection.hpp"
#include "store/event.hpp"

namespace sluice::store {

// One line of a bulk import: an event for an aggregate, with an optional explicit version.
struct BulkEvent {
    std::string aggregate_id;
    std::string aggregate_type;
    NewEvent event;
    std::optional<int> version;  // when set, must continue the aggregate's history exactly
    int line = 0;                // for messages
};

struct BulkReport {
    std::int64_t events_appended = 0;
    std::int64_t aggregates_appended = 0;
    std::vector<std::string> conflicts;  // one message per aggregate that was not appended
};

class EventWriter {
  public:
    explicit EventWriter(pg::Connection& conn, std::string events_table = "events");

    // Appends `events` as versions expected_version+1.. of the aggregate, all or nothing.
    // Returns the aggregate's new version.
    int append(const std::string& aggregate_id, const std::string& aggregate_type,
               int expected_version, const std::vector<NewEvent>& events);

    // Appends many aggregates' events, batched (about `chunk_events` per transaction), each
    // aggregate all or nothing. Validates everything first: on bad input nothing is written.
    BulkReport append_bulk(const std::vector<BulkEvent>& events, std::size_t chunk_events = 2000);

    using Group = std::vector<const BulkEvent*>;  // one aggregate's events, in line order

  private:
    struct Row {
        const std::string* aggregate_id;
        const std::string* aggregate_type;
        int version;
        const NewEvent* event;
    };
    void insert_rows(const std::vector<Row>& rows);
    // Appends whole aggregates in one transaction; false (nothing written) when some aggregate
    // must be settled on its own: explicit versions that do not continue, or a concurrent writer.
    bool append_chunk(const std::vector<const Group*>& chunk, BulkReport& report);
    // Appends one aggregate, reporting a version conflict instead of throwing it.
    void append_group(const Group& group, BulkReport& report);
    // The aggregate's last version (0 when it has no events yet) and its stored type.
    struct Current {
        int version = 0;
        std::optional<std::string> type;
    };
    Current current(const std::string& aggregate_id);
    int current_version(const std::string& aggregate_id) { return current(aggregate_id).version; }
    // Throws std::invalid_argument naming the first line whose timestamp PostgreSQL rejects.
    void check_timestamps(const std::vector<std::pair<int, std::string>>& timestamps);

    pg::Connection& conn_;
    std::string table_;  // quoted
};

// The aggregate's history in version order; with as_of, only events at or before that time.
// `upcast`, when given, is a function call over the events row `e` returning (event_type,
// payload) (engine::Upcast::call): the events are returned as it makes them.
std::vector<StoredEvent> load(pg::Connection& conn, const std::string& aggregate_id,
                              const std::optional<std::string>& as_of = std::nullopt,
                              const std::string& events_table = "events",
                              const std::string& upcast = {});

}  // namespace sluice::store
