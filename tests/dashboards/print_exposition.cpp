// Prints the exposition of a fresh SluiceMetrics with one projection and one webhook: the
// reference list of metric names that check_dashboards.py holds the dashboard and alerts to.
#include <iostream>

#include "daemon/metrics.hpp"

int main() {
    using namespace sluice::daemon::metrics;
    SluiceMetrics metrics;
    const auto projection =
        metrics.add_subscriber(SubscriberKind::projection, "example_projection");
    const auto webhook = metrics.add_subscriber(SubscriberKind::webhook, "example_webhook");
    (void)metrics.outbox().add("example_webhook");
    metrics.set_definitions_changed({{"example_projection", false}});
    metrics.set_rebuild_verify_failed({{"example_projection", false}});
    std::cout << metrics.expose();
    return std::cout.good() ? 0 : 1;
}
