#include "daemon/units.hpp"

#include "infra/pg/literal.hpp"
#include "outbox/dispatcher.hpp"
#include "projections/partition.hpp"
#include "projections/projection_sink.hpp"

namespace sluice::daemon {

std::map<std::string, Unit> units_of(const config::Config& config) {
    const std::string table = pg::quote_qualified(config.database.events_table);
    const auto timeout = config.database.statement_timeout;
    const auto pooling = config.database.pooling;
    std::map<std::string, Unit> units;
    for (const auto& p : config.projections) {
        (void)projections::ProjectionSink(p, table, timeout);
        for (int i = 0; i < p.partitions; ++i) {
            projections::Part part{i, p.partitions};
            units[projections::part_name(p.name, part)] = {
                config::without_location(p), metrics::SubscriberKind::projection,
                [p, table, timeout, part, pooling] {
                    return std::make_unique<projections::ProjectionSink>(p, table, timeout, part,
                                                                         pooling);
                }};
        }
    }
    for (const auto& w : config.webhooks) {
        (void)outbox::DispatchSink(w, table);
        units[w.name] = {DispatchFilter{w.name, w.event_types, w.aggregate_types},
                         metrics::SubscriberKind::webhook,
                         [w, table] { return std::make_unique<outbox::DispatchSink>(w, table); }};
    }
    return units;
}

}  // namespace sluice::daemon
