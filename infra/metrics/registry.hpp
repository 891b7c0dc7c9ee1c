// A Prometheus registry: families registered once at start-up (or on config reload), rendered
// on every scrape by expose(). Families live as long as the registry; the references that the
// add_* functions return stay valid until the registry is destroyed.
// Thread-safe: registration, collect hooks and expose() may run concurrently from any thread.
// Error policy: invalid metric or label names, a duplicate family name, or a histogram with a
// label called "le" throw std::invalid_argument (programming errors). expose() never throws
// except std::bad_alloc; an exception from a collect hook propagates to the caller of expose().
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "infra/metrics/family.hpp"
#include "infra/metrics/text_format.hpp"

namespace sluice::metrics {

// Default histogram buckets, in seconds (the Prometheus client default).
[[nodiscard]] std::vector<double> default_buckets();

[[nodiscard]] bool is_valid_metric_name(std::string_view name);
[[nodiscard]] bool is_valid_label_name(std::string_view name);

class Registry {
  public:
    Registry() = default;
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    CounterFamily& add_counter(std::string name, std::string help,
                               std::vector<std::string> label_names = {});
    GaugeFamily& add_gauge(std::string name, std::string help,
                           std::vector<std::string> label_names = {});
    HistogramFamily& add_histogram(std::string name, std::string help,
                                   std::vector<std::string> label_names = {},
                                   std::vector<double> upper_bounds = default_buckets());

    // Runs at the start of every expose(), before any family is read, e.g. to set gauges that
    // are computed at scrape time. Hooks run on the scraping thread and must be quick and
    // thread-safe (two scrapes may run them concurrently); they must not register families.
    void add_collect_hook(std::function<void()> hook);

    // Runs the collect hooks, then snapshots every family in registration order.
    [[nodiscard]] std::vector<FamilySnapshot> collect() const;
    // render_text(collect()): the body of a /metrics response (see text_content_type).
    [[nodiscard]] std::string expose() const;

  private:
    template <class F, class... Args>
    F& add(std::string name, std::string help, std::vector<std::string> label_names,
           Args&&... args);

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<FamilyBase>> families_;
    std::vector<std::function<void()>> hooks_;
};

}  // namespace sluice::metrics
