// The schema sluice needs, as versioned migrations compiled into the binary. Pure data: the
// SQL of each step for a given events table and notification channel.
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

// Quotes an optionally schema-qualified identifier: app.events -> "app"."events".
// Throws std::invalid_argument for names that are not plain identifiers.
[[nodiscard]] std::string quote_qualified(const std::string& name);
// A SQL string literal with quotes doubled.
[[nodiscard]] std::string quote_literal(const std::string& text);

[[nodiscard]] std::vector<Migration> migrations(const SchemaOptions& options);

// Advisory lock key that serialises concurrent migrations.
inline constexpr long long migrate_lock_key = 0x736c756963650001LL;  // "sluice" + 1

}  // namespace sluice::store
