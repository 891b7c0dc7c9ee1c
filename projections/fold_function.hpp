// Turns a snapshots: entry (an aggregate type's state as a fold in SQL) into the SQL that sluice
// installs for it. A snapshot is a projection of one aggregate's events into one jsonb value, so
// it lives beside the projections and shares their partitioning.
//
// - sluice."fold_<type>"(aggregate_id uuid, as_of timestamptz, up_to bigint) -> (version, state):
//   a persistent function any client may call (through sluice.aggregate_state). It starts from
//   the latest snapshot of the same fingerprint at or before the point asked (or from `initial`
//   when there is none) and folds the later events of the aggregate in version order, all in
//   the server. `as_of` means: the events up to the highest version whose timestamp is at or
//   before as_of (timestamps of one aggregate rise with its versions when written by the seed's
//   append; the version is what orders them).
// - sluice."snapshot_<fingerprint>"(ids bigint[]): the daemon's batch step: for each event given,
//   folds its aggregate up to the event's version, stores that as a snapshot and keeps only the
//   newest `keep` of the current fingerprint.
//
// The fingerprint is the MD5 of everything that decides the state (aggregate type, initial,
// apply expressions, events table, and the upcasters that may change an event the fold
// applies): a changed fold never reads snapshots of the old one. The fold sees every event
// through the upcasters (engine/upcast.hpp), whose function must be installed first.
// Event values reach the expressions as columns of the event row; nothing from an event is ever
// spliced into SQL text. Pure. Error policy: std::invalid_argument for expressions that use an
// unknown parameter (the config loader reports those first).
#pragma once

#include <string>

#include "config/config.hpp"
#include "engine/upcast.hpp"

namespace sluice::projections {

// Hex MD5 of the fold's definition.
[[nodiscard]] std::string fold_fingerprint(const config::Snapshot& snapshot,
                                           const std::string& quoted_events_table,
                                           const engine::Upcast& upcast = {});

// "fold_Order": the unquoted name of the fold function in schema sluice.
[[nodiscard]] std::string fold_function_name(const std::string& aggregate_type);

struct FoldFunction {
    std::string fingerprint;
    std::string install_sql;  // CREATE OR REPLACE FUNCTION sluice."fold_<type>" (persistent)
    std::string take_sql;     // CREATE OR REPLACE FUNCTION sluice."snapshot_<fingerprint>"
    std::string call_sql;     // takes snapshots at the events $1::bigint[] (in delivery order)
};

[[nodiscard]] FoldFunction fold_function(const config::Snapshot& snapshot,
                                         const std::string& quoted_events_table,
                                         const engine::Upcast& upcast = {});

// The event types a fold applies.
[[nodiscard]] engine::TypeSet applied_types(const config::Snapshot& snapshot);

// An apply expression as it runs inside the fold: :state -> the state so far, :param -> the
// event row's column.
[[nodiscard]] std::string embed_expression(std::string_view expression);

}  // namespace sluice::projections
