// A small blocking HTTP/1.1 client over loopback, for `sluice status` and `sluice rebuild`
// asking a running daemon. Error policy: returns nullopt when the daemon cannot be reached or
// does not answer in time; http_get also when it answers non-2xx.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace sluice::daemon {

[[nodiscard]] std::optional<std::string> http_get(const std::string& listen_address,
                                                  const std::string& path,
                                                  std::chrono::milliseconds timeout);

struct HttpAnswer {
    unsigned status = 0;
    std::string body;
};

// `method` ("GET", "POST") with an empty body; any status.
[[nodiscard]] std::optional<HttpAnswer> http_request(const std::string& listen_address,
                                                     const std::string& method,
                                                     const std::string& path,
                                                     std::chrono::milliseconds timeout);

}  // namespace sluice::daemon
