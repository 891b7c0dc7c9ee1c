#include "infra/metrics/registry.hpp"

#include <stdexcept>

namespace sluice::metrics {

std::vector<double> default_buckets() {
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

namespace {

bool is_name_char(char c, bool first, bool colon_allowed) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    return letter || (!first && digit) || (colon_allowed && c == ':');
}

bool is_valid_name(std::string_view name, bool colon_allowed) {
    if (name.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (!is_name_char(name[i], i == 0, colon_allowed)) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool is_valid_metric_name(std::string_view name) {
    return is_valid_name(name, true);
}

bool is_valid_label_name(std::string_view name) {
    // Names starting with __ are reserved for Prometheus itself.
    return is_valid_name(name, false) && !name.starts_with("__");
}

template <class F, class... Args>
F& Registry::add(std::string name, std::string help, std::vector<std::string> label_names,
                 Args&&... args) {
    if (!is_valid_metric_name(name)) {
        throw std::invalid_argument("invalid metric name '" + name + "'");
    }
    for (std::size_t i = 0; i < label_names.size(); ++i) {
        const std::string& label = label_names[i];
        if (!is_valid_label_name(label)) {
            throw std::invalid_argument("metric " + name + ": invalid label name '" + label + "'");
        }
        if (F::type == MetricType::histogram && label == "le") {
            throw std::invalid_argument("metric " + name + ": a histogram cannot use label le");
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (label_names[j] == label) {
                throw std::invalid_argument("metric " + name + ": duplicate label " + label);
            }
        }
    }
    std::lock_guard lock(mutex_);
    for (const auto& family : families_) {
        if (family->name() == name) {
            throw std::invalid_argument("metric " + name + " is already registered");
        }
    }
    auto family = std::make_unique<F>(std::move(name), std::move(help), std::move(label_names),
                                      std::forward<Args>(args)...);
    F& ref = *family;
    families_.push_back(std::move(family));
    return ref;
}

CounterFamily& Registry::add_counter(std::string name, std::string help,
                                     std::vector<std::string> label_names) {
    return add<CounterFamily>(std::move(name), std::move(help), std::move(label_names));
}

GaugeFamily& Registry::add_gauge(std::string name, std::string help,
                                 std::vector<std::string> label_names) {
    return add<GaugeFamily>(std::move(name), std::move(help), std::move(label_names));
}

HistogramFamily& Registry::add_histogram(std::string name, std::string help,
                                         std::vector<std::string> label_names,
                                         std::vector<double> upper_bounds) {
    // Validate before registering, so a bad bucket list leaves no half-registered family.
    auto bounds = Histogram::validate_bounds(std::move(upper_bounds));
    return add<HistogramFamily>(std::move(name), std::move(help), std::move(label_names),
                                std::move(bounds));
}

void Registry::add_collect_hook(std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    hooks_.push_back(std::move(hook));
}

std::vector<FamilySnapshot> Registry::collect() const {
    std::vector<std::function<void()>> hooks;
    {
        std::lock_guard lock(mutex_);
        hooks = hooks_;
    }
    // Outside the lock: a hook may take its own locks or read files.
    for (const auto& hook : hooks) {
        hook();
    }
    std::lock_guard lock(mutex_);
    std::vector<FamilySnapshot> out;
    out.reserve(families_.size());
    for (const auto& family : families_) {
        out.push_back(family->collect());
    }
    return out;
}

std::string Registry::expose() const {
    return render_text(collect());
}

}  // namespace sluice::metrics
