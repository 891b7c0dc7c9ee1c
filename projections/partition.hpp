// Partitioned projections: a projection with `partitions: N` runs as N independent parts, each
// with its own checkpoint and owner. An event belongs to part hash(aggregate_id) mod N, so one
// aggregate's events stay in one part (and in version order there). The hash is the first 32
// bits of the MD5 of the aggregate id's text, the same in C++ (the batch path) and in SQL
// (sluice.event_part(aggregate_id, N), store/migrations.cpp, used by the server-side catch-up and
// by the part index of projections/part_index.hpp), and stable across versions and machines.
// Pure. Error policy: none; a count below 1 is treated as 1.
#pragma once

#include <string>
#include <string_view>

namespace sluice::projections {

struct Part {
    int index = 0;  // 0-based
    int count = 1;
};

// The part an aggregate id (canonical lower-case UUID text) belongs to, in [0, count).
[[nodiscard]] int part_of(std::string_view aggregate_id, int count);

// The SQL expression for the part, in [0, count), of `column` (an expression of type uuid).
[[nodiscard]] std::string part_expression(std::string_view column, int count);

// A SQL condition true for events of `part`; `column` is an expression of type uuid.
[[nodiscard]] std::string part_condition(std::string_view column, Part part);

// The subscriber (checkpoint, owner) name of a part: "orders" for an unpartitioned projection,
// "orders[2/4]" for the second of four parts.
[[nodiscard]] std::string part_name(const std::string& projection, Part part);

}  // namespace sluice::projections
