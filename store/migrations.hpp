// The schema sluice needs, as versioned migrations compiled into the binary. Pure data: the
// SQL of each step for a given events table and notification channel. The functions that refuse a
// batch raise SQLSTATEs of class SL, whose meanings store/coordination.hpp maps.
// Error policy: migrations() throws std::invalid_argument for an events table that is not a
// valid (optionally schema-qualified) name.
#pragma once

#include <string>
#include <vector>

#include "store/channels.hpp"

namespace sluice::store {

struct Migration {
    int version;
    std::string name;
    // "sluice" for the sluice schema itself, or the events table the step changes: the same
    // version is applied once per events table.
    std::string target;
    std::string sql;
};

struct SchemaOptions {
    std::string events_table = "events";  // optionally schema-qualified: app.events
    std::string notify_channel = std::string(default_events_channel);
};

[[nodiscard]] std::vector<Migration> migrations(const SchemaOptions& options);

// Advisory lock key that serialises concurrent migrations.
inline constexpr long long migrate_lock_key = 0x736c756963650001LL;  // "sluice" + 1

}  // namespace sluice::store
