#include "engine/event_row.hpp"

#include <algorithm>
#include <unordered_map>

namespace sluice::engine {

void order_versions_within_aggregates(std::vector<EventRow>& rows) {
    std::unordered_map<std::string_view, std::vector<std::size_t>> slots;
    bool out_of_order = false;
    std::unordered_map<std::string_view, int> last_version;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        std::string_view key = rows[i].aggregate_id;
        auto [it, first] = last_version.try_emplace(key, rows[i].version);
        if (!first) {
            if (rows[i].version < it->second)
                out_of_order = true;
            it->second = rows[i].version;
        }
        slots[key].push_back(i);
    }
    if (!out_of_order)
        return;  // the common case costs one pass
    std::vector<EventRow> sorted(rows.size());
    for (auto& [key, indexes] : slots) {
        std::vector<std::size_t> by_version = indexes;
        std::stable_sort(by_version.begin(), by_version.end(), [&](std::size_t a, std::size_t b) {
            return rows[a].version < rows[b].version;
        });
        for (std::size_t k = 0; k < indexes.size(); ++k)
            sorted[indexes[k]] = rows[by_version[k]];
    }
    rows = std::move(sorted);
}

}  // namespace sluice::engine
