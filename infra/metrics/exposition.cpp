#include "infra/metrics/exposition.hpp"

#include <prometheus/text_serializer.h>

#include <iterator>
#include <vector>

namespace sluice::metrics {

std::string expose(std::initializer_list<const prometheus::Collectable*> sources) {
    std::vector<prometheus::MetricFamily> families;
    for (const auto* source : sources) {
        auto collected = source->Collect();
        families.insert(families.end(), std::make_move_iterator(collected.begin()),
                        std::make_move_iterator(collected.end()));
    }
    return prometheus::TextSerializer().Serialize(families);
}

}  // namespace sluice::metrics
