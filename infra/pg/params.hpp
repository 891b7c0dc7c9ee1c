// Query parameters, always bound (never spliced into SQL text). Text format; NULL = nullopt.
// Array parameters are built with infra/pg/literal.hpp (text_array, int_array).
// Error policy: never throws (but for allocation).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::pg {

class Params {
  public:
    Params() = default;
    template <class... Values>
    explicit Params(Values&&... values) {
        (add(std::forward<Values>(values)), ...);
    }

    Params& add(std::string v) {
        values_.emplace_back(std::move(v));
        return *this;
    }
    Params& add(const char* v) { return add(std::string(v)); }
    Params& add(std::string_view v) { return add(std::string(v)); }
    Params& add(std::int64_t v) { return add(std::to_string(v)); }
    Params& add(int v) { return add(std::to_string(v)); }
    Params& add(std::optional<std::string> v) {
        values_.push_back(std::move(v));
        return *this;
    }
    Params& add(std::nullopt_t) {
        values_.emplace_back(std::nullopt);
        return *this;
    }

    [[nodiscard]] std::size_t size() const { return values_.size(); }
    // Pointer array for libpq; valid while this object lives and is not modified.
    [[nodiscard]] std::vector<const char*> pointers() const {
        std::vector<const char*> p;
        p.reserve(values_.size());
        for (const auto& v : values_)
            p.push_back(v ? v->c_str() : nullptr);
        return p;
    }

  private:
    std::vector<std::optional<std::string>> values_;
};

}  // namespace sluice::pg
