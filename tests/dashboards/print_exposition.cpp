// Prints the exposition of a fresh SluiceMetrics with one projection and one webhook: the
// reference list of metric names that check_dashboards.py holds the dashboard and alerts to.
#include <iostream>

#include "infra/metrics/sluice_metrics.hpp"

int main() {
    using namespace sluice::metrics;
    Registry registry;
    SluiceMetrics metrics(registry);
    metrics.add_subscriber(SubscriberKind::projection, "example_projection");
    metrics.add_subscriber(SubscriberKind::webhook, "example_webhook");
    metrics.add_webhook("example_webhook");
    std::cout << registry.expose();
    return std::cout.good() ? 0 : 1;
}
