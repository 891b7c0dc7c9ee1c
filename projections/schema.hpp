// The PostgreSQL schema a projection owns (`schema:` in the config): its setup, reset and
// handlers name their tables unqualified and run with that schema first on the search_path, so
// the same SQL builds whichever generation is put first. `sluice rebuild` builds the next
// generation in a schema of its own beside the live one and swaps the names
// (docs/operations.md, "Changing a projection"); the names of the generations and of their
// checkpoints are defined here, once.
// Pure. Error policy: none (names were validated when the config was read).
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace sluice::projections {

// `script` run with `schema` first on the search_path (before what the session had) until the
// end of its transaction: a multi-statement script is one implicit transaction, so nothing is
// left behind on the session (nor on a pooled server connection). `script` itself for "".
[[nodiscard]] std::string with_schema_first(const std::string& schema, const std::string& script);

[[nodiscard]] std::string create_schema_sql(const std::string& schema);

// USAGE on the schema and SELECT on every table in it, for each role; "" for none.
[[nodiscard]] std::string grants_sql(const std::string& schema,
                                     const std::vector<std::string>& grants);

// A projection's generations: the live schema readers query, the next one a rebuild fills, the
// previous one a swap keeps for `sluice rollback`; with the checkpoint name of each that is not
// live (the live one keeps the projection's name). '@' appears in no projection or part name,
// so these never collide with a subscriber's.
struct Generations {
    std::string live;
    std::string next;
    std::string previous;
    std::string next_checkpoint;
    std::string previous_checkpoint;
};

[[nodiscard]] Generations generations(const config::Projection& projection);

// The checkpoint of the generation a rebuild builds (`NAME@next`) or a rollback catches up
// (`NAME@previous`): what status shows as the rebuild's generation.
[[nodiscard]] std::string incoming_checkpoint(const std::string& projection, bool rollback);

}  // namespace sluice::projections
