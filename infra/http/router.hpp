// Routing for the daemon's HTTP endpoint: a table from exact path to handler, as a pure
// function of (method, target), testable without sockets. The router knows nothing of sluice;
// the daemon registers /metrics, /healthz, /readyz and /status.
// GET routes are exact paths; POST routes take every path under a prefix and are coroutines
// (they may await the database). Another method on a known path is 405, an unknown path 404.
// Handlers run on the I/O thread: they must be quick and never block.
// Error policy: add() throws std::invalid_argument for a path not starting with '/' or one
// already registered (programming errors). A handler that throws becomes a 500 whose body says
// nothing of the exception (it may hold internals); the exception is logged.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace sluice::http {

struct Request {
    std::string_view method;     // as sent, e.g. "GET"
    std::string_view path;       // the target up to '?'
    std::string_view query;      // after '?', empty when absent
    bool from_loopback = false;  // the peer's address is a loopback one
};

struct Response {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

using Handler = std::function<Response(const Request&)>;
// The request's views stay valid until the returned awaitable completes.
using PostHandler = std::function<boost::asio::awaitable<Response>(Request)>;

class Router {
  public:
    void add(std::string path, Handler handler);
    // POST to `prefix` followed by anything (e.g. "/rebuilds/" for /rebuilds/NAME).
    void add_post(std::string prefix, PostHandler handler);
    [[nodiscard]] Response handle(std::string_view method, std::string_view target) const;
    // Routes POST prefixes first, then as handle().
    [[nodiscard]] boost::asio::awaitable<Response> handle_async(std::string_view method,
                                                                std::string_view target,
                                                                bool from_loopback) const;

  private:
    std::map<std::string, Handler, std::less<>> routes_;
    std::map<std::string, PostHandler, std::less<>> post_routes_;
};

}  // namespace sluice::http
