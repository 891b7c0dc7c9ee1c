// A prometheus::Counter that follows a running total kept elsewhere (a component's own stats
// struct), advanced by what the total gained since the last update. A total below the last
// one means its owner restarted from zero: the counter advances by the whole new total, so it
// never decreases and counts what happened in every life of the source.
// Thread-safety: the counter itself is thread-safe; advance_to() updates the remembered total
// and must be called from one thread at a time (the one that reads the source's stats).
// Error policy: never throws.
#pragma once

#include <prometheus/counter.h>

namespace sluice::metrics {

class MirroredCounter {
  public:
    explicit MirroredCounter(prometheus::Counter& counter) : counter_(&counter) {}

    void advance_to(double total) {
        counter_->Increment(total >= seen_ ? total - seen_ : total);
        seen_ = total;
    }

    [[nodiscard]] prometheus::Counter& counter() const { return *counter_; }

  private:
    prometheus::Counter* counter_;
    double seen_ = 0;
};

}  // namespace sluice::metrics
