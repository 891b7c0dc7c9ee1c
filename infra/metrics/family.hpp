// Helpers over prometheus-cpp families that the library leaves to its users.
#pragma once

#include <prometheus/family.h>
#include <prometheus/labels.h>

namespace sluice::metrics {

// Removes the series with `labels` from `family`, if it has one. prometheus-cpp removes a series
// by its handle, and Add() returns the existing one (so a histogram's bucket arguments are
// unused here, but must be given).
template <class T, class... Args>
void remove_series(prometheus::Family<T>& family, const prometheus::Labels& labels,
                   const Args&... args) {
    if (family.Has(labels)) {
        family.Remove(&family.Add(labels, args...));
    }
}

}  // namespace sluice::metrics
