#include "daemon/units.hpp"

#include "engine/upcast.hpp"
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
    const engine::Upcast upcast(config.upcasters, table);
    std::map<std::string, Unit> units;
    for (const auto& p : config.projections) {
        (void)projections::ProjectionSink(p, table, timeout, {}, pooling, upcast);
        const auto upcasters = upcast.definition_for(projections::handled_types(p));
        for (int i = 0; i < p.partitions; ++i) {
            projections::Part part{i, p.partitions};
            units[projections::part_name(p.name, part)] = {
                config::without_location(p), upcasters, metrics::SubscriberKind::projection,
                [p, table, timeout, part, pooling, upcast] {
                    return std::make_unique<projections::ProjectionSink>(p, table, timeout, part,
                                                                         pooling, upcast);
                }};
        }
    }
    for (const auto& s : config.snapshots) {
        (void)projections::SnapshotSink(s, table, timeout, {}, upcast);
        const auto upcasters = upcast.definition_for(projections::applied_types(s));
        for (int i = 0; i < s.partitions; ++i) {
            projections::Part part{i, s.partitions};
            units[projections::snapshot_subscriber(s.aggregate_type, part)] = {
                config::without_location(s), upcasters, metrics::SubscriberKind::snapshot,
                [s, table, timeout, part, upcast] {
                    return std::make_unique<projections::SnapshotSink>(s, table, timeout, part,
                                                                       upcast);
                }};
        }
    }
    for (const auto& w : config.webhooks) {
        (void)outbox::DispatchSink(w, table, upcast);
        DispatchFilter definition{w.name,
                                  w.event_types,
                                  w.aggregate_types,
                                  w.filter ? w.filter->sql : "",
                                  w.body ? w.body->sql : "",
                                  w.on_error};
        // A webhook without event_types sees every type; its filter: and body: may be about any.
        std::string upcasters =
            w.event_types.empty()
                ? upcast.definition()
                : upcast.definition_for({w.event_types.begin(), w.event_types.end()});
        units[w.name] = {std::move(definition), std::move(upcasters),
                         metrics::SubscriberKind::webhook, [w, table, upcast] {
                             return std::make_unique<outbox::DispatchSink>(w, table, upcast);
                         }};
    }
    return units;
}

}  // namespace sluice::daemon
