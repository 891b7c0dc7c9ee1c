// The units of work of a config: each projection (or each part of a partitioned one), each
// aggregate type's snapshots (or each part of them) and each webhook dispatcher, by subscriber
// name, with what its runner is made from. The daemon starts runners from them
// (daemon/subscribers.cpp); `sluice parked retry` builds one unit's sink from them, so a retried
// event goes through exactly the sink the daemon would use. Error policy: units_of throws
// std::invalid_argument (a handler that cannot be embedded) before returning anything.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "daemon/metrics.hpp"
#include "engine/sink.hpp"

namespace sluice::daemon {

// What a unit's runner is made from; a reload restarts a running unit when it changes.
// A projection or snapshots: every field except where it is written (config::without_location). A
// webhook's dispatcher: only which events it enqueues; delivery settings belong to the publisher.
struct DispatchFilter {
    std::string name;
    std::vector<std::string> event_types;
    std::vector<std::string> aggregate_types;
    std::string filter;  // the SQL of `filter:` and `body:`, empty when absent
    std::string body;
    config::OnError on_error;

    bool operator==(const DispatchFilter&) const = default;
};
using UnitDefinition = std::variant<config::Projection, DispatchFilter, config::Snapshot>;

struct Unit {
    UnitDefinition definition;
    // The upcasters that may change an event the unit sees (engine::Upcast::definition_for):
    // a reload restarts the unit when they change, as when its definition does.
    std::string upcasters;
    metrics::SubscriberKind kind;
    std::function<std::unique_ptr<engine::Sink>()> make_sink;
};

// Every unit of `config` by subscriber name (a part as NAME[k/N]). Builds every sink once first,
// so a handler that cannot be embedded throws here.
[[nodiscard]] std::map<std::string, Unit> units_of(const config::Config& config);

}  // namespace sluice::daemon
