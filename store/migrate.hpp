// Applies sluice's migrations to a database. Safe to run any number of times and from several
// processes at once: one transaction, serialised by an advisory lock, skipping recorded steps.
// Error policy: throws pg::Error (database) or std::invalid_argument (bad table name); on error
// nothing is applied.
#pragma once

#include <string>
#include <vector>

#include "infra/pg/connection.hpp"
#include "store/migrations.hpp"

namespace sluice::store {

struct MigrateReport {
    std::vector<std::string> applied;  // "3 events: transaction_id, ..." for each step applied now
    int already_applied = 0;
};

MigrateReport migrate(pg::Connection& conn, const SchemaOptions& options);

}  // namespace sluice::store
