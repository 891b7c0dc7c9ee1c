// A small blocking HTTP/1.1 GET over loopback, for `sluice status` asking a running daemon.
// Error policy: returns nullopt when the daemon cannot be reached or answers non-2xx in time.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace sluice::daemon {

[[nodiscard]] std::optional<std::string> http_get(const std::string& listen_address,
                                                  const std::string& path,
                                                  std::chrono::milliseconds timeout);

}  // namespace sluice::daemon
