#include "daemon/units.hpp"

#include "infra/pg/literal.hpp"
#include "outbox/dispatcher.hpp"
#include "projections/partition.hpp"
#include "projections/projection_sink.hpp"
#include "projections/snapshot_sink.hpp"

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
    for (const auto& s : config.snapshots) {
        (void)projections::SnapshotSink(s, table, timeout);
        for (int i = 0; i < s.partitions; ++i) {
            projections::Part part{i, s.partitions};
            units[projections::snapshot_subscriber(s.aggregate_type, part)] = {
                config::without_location(s), metrics::SubscriberKind::snapshot,
                [s, table, timeout, part] {
                    return std::make_unique<projections::SnapshotSink>(s, table, timeout, part);
                }};
        }
    }
    for (const auto& w : config.webhooks) {
        (void)outbox::DispatchSink(w, table);
        DispatchFilter definition{w.name,
                                  w.event_types,
                                  w.aggregate_types,
                                  w.filter ? w.filter->sql : "",
                                  w.body ? w.body->sql : "",
                                  w.on_error};
        units[w.name] = {std::move(definition), metrics::SubscriberKind::webhook,
                         [w, table] { return std::make_unique<outbox::DispatchSink>(w, table); }};
    }
    return units;
}

}  // namespace sluice::daemon
