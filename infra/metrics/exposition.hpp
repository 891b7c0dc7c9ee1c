// The body of a /metrics response: the families of every source (a prometheus::Registry, a
// collector read at scrape time), in the order given, as prometheus-cpp's TextSerializer
// writes them (Prometheus text format 0.0.4). It escapes label values but writes HELP text
// verbatim: help texts must hold no backslash and no newline (sluice's are constants).
// Thread-safety: as the sources' Collect(); prometheus-cpp registries may be collected from
// any thread. Error policy: never throws except std::bad_alloc and what a source throws.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace sluice::metrics {

// The Content-Type that an HTTP endpoint serving expose() output must send.
inline constexpr std::string_view text_content_type = "text/plain; version=0.0.4; charset=utf-8";

[[nodiscard]] std::string expose(std::initializer_list<const prometheus::Collectable*> sources);

}  // namespace sluice::metrics
