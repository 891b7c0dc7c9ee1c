// A labelled metric family: fixed label names, one child per distinct tuple of label values.
// The family keeps every child alive until remove(); with() hands out a reference that stays
// valid until then, shared() a handle that stays valid (but unexported) even after removal.
// Thread-safe: child lookup, creation, removal and collection take the family's mutex; updates
// on a child are atomics and take no lock.
// Error policy: a label value count that differs from the label names throws
// std::invalid_argument (a programming error).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "infra/metrics/metric.hpp"
#include "infra/metrics/text_format.hpp"

namespace sluice::metrics {

using LabelValues = std::vector<std::string>;

// What the registry needs from every family, whatever its metric kind.
class FamilyBase {
  public:
    FamilyBase(std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names)
        : name_(std::move(name)),
          help_(std::move(help)),
          type_(type),
          label_names_(std::move(label_names)) {}
    FamilyBase(const FamilyBase&) = delete;
    FamilyBase& operator=(const FamilyBase&) = delete;
    virtual ~FamilyBase() = default;

    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] const std::vector<std::string>& label_names() const { return label_names_; }
    [[nodiscard]] virtual FamilySnapshot collect() const = 0;

  protected:
    FamilySnapshot empty_snapshot() const { return {name_, help_, type_, label_names_, {}}; }
    void check_arity(const LabelValues& values) const {
        if (values.size() != label_names_.size()) {
            throw std::invalid_argument("metric " + name_ + " takes " +
                                        std::to_string(label_names_.size()) +
                                        " label values, got " + std::to_string(values.size()));
        }
    }

  private:
    std::string name_;
    std::string help_;
    MetricType type_;
    std::vector<std::string> label_names_;
};

template <class Metric>
class Family final : public FamilyBase {
  public:
    static constexpr MetricType type = std::is_same_v<Metric, Counter> ? MetricType::counter
                                       : std::is_same_v<Metric, Gauge> ? MetricType::gauge
                                                                       : MetricType::histogram;

    // upper_bounds is used by histogram families only.
    Family(std::string name, std::string help, std::vector<std::string> label_names,
           std::vector<double> upper_bounds = {})
        : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
          upper_bounds_(std::move(upper_bounds)) {
        if (this->label_names().empty()) {
            (void)with({});  // an unlabelled metric exists (at zero) from registration on
        }
    }

    // The child for these label values, created at zero if absent.
    Metric& with(const LabelValues& label_values) { return *shared(label_values); }

    [[nodiscard]] std::shared_ptr<Metric> shared(const LabelValues& label_values) {
        check_arity(label_values);
        std::lock_guard lock(mutex_);
        auto [it, inserted] = children_.try_emplace(label_values);
        if (inserted) {
            it->second = make_child();
        }
        return it->second;
    }

    [[nodiscard]] bool contains(const LabelValues& label_values) const {
        std::lock_guard lock(mutex_);
        return children_.contains(label_values);
    }

    // Stops exporting the series; outstanding shared() handles keep working, unexported.
    bool remove(const LabelValues& label_values) {
        std::lock_guard lock(mutex_);
        return children_.erase(label_values) > 0;
    }

    [[nodiscard]] FamilySnapshot collect() const override {
        FamilySnapshot out = empty_snapshot();
        std::lock_guard lock(mutex_);
        out.series.reserve(children_.size());
        for (const auto& [values, child] : children_) {
            SeriesSnapshot series{values, 0, {}};
            if constexpr (std::is_same_v<Metric, Histogram>) {
                series.histogram = child->snapshot();
            } else {
                series.value = child->value();
            }
            out.series.push_back(std::move(series));
        }
        return out;
    }

  private:
    std::shared_ptr<Metric> make_child() const {
        if constexpr (std::is_same_v<Metric, Histogram>) {
            return std::make_shared<Histogram>(upper_bounds_);
        } else {
            return std::make_shared<Metric>();
        }
    }

    std::vector<double> upper_bounds_;
    mutable std::mutex mutex_;
    std::map<LabelValues, std::shared_ptr<Metric>> children_;  // sorted: stable exposition
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

}  // namespace sluice::metrics
