// A projection's definition fingerprint: a stable hash over what decides the content of its
// read model (setup, handlers, the aggregate_types filter, partitions, schema), and one hash per
// part of it, so that a read model built by an older definition is noticed and the log can say
// which parts changed. Operational settings (on_error, reset, verify, grants, on_change, where
// things are written) take no part: changing them changes no row of the read model.
// Stored in sluice.projection_definitions (store/definitions.hpp) under the projection's name,
// shared by its parts. Pure. Error policy: never throws except std::bad_alloc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace sluice::projections {

struct Definition {
    std::string fingerprint;  // 16 hex digits (sql::text_hash)
    // A JSON object, one member per part: {"setup": h, "handlers": h, "filters": h,
    // "partitions": n, "schema": h}; stored as jsonb.
    std::string parts;
};

[[nodiscard]] Definition definition_of(const config::Projection& projection);

// The parts of `current` that differ from those stored (in part order: setup, handlers, filters,
// partitions, schema); empty when the fingerprints match. Stored parts that cannot be read
// (or a part unknown to them) count as changed.
[[nodiscard]] std::vector<std::string> changed_parts(std::string_view stored_fingerprint,
                                                     std::string_view stored_parts,
                                                     const Definition& current);

}  // namespace sluice::projections
