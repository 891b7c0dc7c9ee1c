// What `sluice rebuild` and `sluice rollback` write into sluice.projection_definitions
// (store/definitions.hpp): the definition a generation was built by, and its move with the
// generation when a swap brings another one in. Run on the caller's connection, inside the
// caller's transaction when there is one. Error policy: pg::Error propagates.
#pragma once

#include <string>

#include "infra/pg/connection.hpp"
#include "projections/definition.hpp"

namespace sluice::daemon {

// Records `definition` as what the generation `name` (NAME, NAME@next) was built by.
void record_definition(pg::Connection& conn, const std::string& name,
                       const projections::Definition& definition);

// Forgets the definition of a generation that is gone (NAME@previous dropped).
void forget_definition(pg::Connection& conn, const std::string& name);

// The swap: the row of `incoming` (NAME@next, NAME@previous) becomes `live`'s, and `live`'s
// goes to `outgoing` (NAME@previous; "" when no generation was live: it is dropped). A
// generation without a row leaves its new name without one.
void swap_definitions(pg::Connection& conn, const std::string& live, const std::string& incoming,
                      const std::string& outgoing);

}  // namespace sluice::daemon
