// The definition each projection's read model was built by (migration 22), as
// projections::definition_of computes it: a fingerprint and its parts. The daemon records it
// for a projection that has no row yet (a new projection, or one that ran before this table:
// built by the definition it runs now), compares it with the config's at start and on reload,
// and reports or rebuilds one built by another (docs/operations.md, "Changing a projection").
// `sluice rebuild` records it: in place with the reset, blue/green under NAME@next when the
// next generation is prepared, moved to NAME by the swap (the outgoing one to NAME@previous).
// Bound parameters only. Error policy: none here (SQL text).
#pragma once

namespace sluice::store {

// $1 projection (or NAME@next, NAME@previous), $2 fingerprint, $3 parts (jsonb text).
inline constexpr const char* record_definition_sql =
    "INSERT INTO sluice.projection_definitions (projection, fingerprint, parts) "
    "VALUES ($1, $2, $3::jsonb) ON CONFLICT (projection) DO UPDATE "
    "SET fingerprint = EXCLUDED.fingerprint, parts = EXCLUDED.parts, updated_at = now()";

// The same for a projection that has no row yet; an existing one stays.
inline constexpr const char* record_first_definition_sql =
    "INSERT INTO sluice.projection_definitions (projection, fingerprint, parts) "
    "VALUES ($1, $2, $3::jsonb) ON CONFLICT (projection) DO NOTHING";

// $1 text[] of projection names: projection, fingerprint, parts::text of those that have a row.
inline constexpr const char* definitions_sql =
    "SELECT projection, fingerprint, parts::text FROM sluice.projection_definitions "
    "WHERE projection = ANY ($1::text[])";

// $1, $2: the rows of two names (a swap reads both before it moves them).
inline constexpr const char* two_definitions_sql =
    "SELECT projection, fingerprint, parts::text FROM sluice.projection_definitions "
    "WHERE projection IN ($1, $2)";

// $1 projection: drops the row of a generation that is gone (NAME@previous, or a name a swap
// is about to write again).
inline constexpr const char* forget_definition_sql =
    "DELETE FROM sluice.projection_definitions WHERE projection = $1";

}  // namespace sluice::store
