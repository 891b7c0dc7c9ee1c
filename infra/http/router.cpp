#include "infra/http/router.hpp"

#include <stdexcept>

#include "infra/log/log.hpp"

namespace sluice::http {

void Router::add(std::string path, Handler handler) {
    if (!path.starts_with('/')) {
        throw std::invalid_argument("route path must start with '/': " + path);
    }
    if (!handler) {
        throw std::invalid_argument("route " + path + " has no handler");
    }
    if (!routes_.try_emplace(path, std::move(handler)).second) {
        throw std::invalid_argument("route " + path + " is already registered");
    }
}

void Router::add_post(std::string prefix, PostHandler handler) {
    if (!prefix.starts_with('/') || !handler)
        throw std::invalid_argument("POST route must start with '/' and have a handler: " + prefix);
    if (!post_routes_.try_emplace(prefix, std::move(handler)).second)
        throw std::invalid_argument("POST route " + prefix + " is already registered");
}

boost::asio::awaitable<Response> Router::handle_async(std::string_view method,
                                                      std::string_view target,
                                                      bool from_loopback) const {
    const std::size_t question = target.find('?');
    Request request{
        method, target.substr(0, question),
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1),
        from_loopback};
    for (const auto& [prefix, handler] : post_routes_) {
        if (!request.path.starts_with(prefix) || request.path.size() == prefix.size())
            continue;
        if (method != "POST")
            co_return Response{405, "text/plain; charset=utf-8", "method not allowed\n"};
        std::string failure;
        try {
            co_return co_await handler(request);
        } catch (const std::exception& e) {
            failure = e.what();
        }
        log::error("http handler failed",
                   {{"path", std::string(request.path)}, {"error", failure}});
        co_return Response{500, "text/plain; charset=utf-8", "internal error\n"};
    }
    co_return handle(method, target);
}

Response Router::handle(std::string_view method, std::string_view target) const {
    const std::size_t question = target.find('?');
    const Request request{
        method, target.substr(0, question),
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1)};
    const auto route = routes_.find(request.path);
    if (route == routes_.end()) {
        return {404, "text/plain; charset=utf-8", "not found\n"};
    }
    if (method != "GET") {
        return {405, "text/plain; charset=utf-8", "method not allowed\n"};
    }
    try {
        return route->second(request);
    } catch (const std::exception& e) {
        // Contained at the request boundary: one broken handler must not take the server down.
        log::error("http handler failed",
                   {{"path", std::string(request.path)}, {"error", std::string(e.what())}});
        return {500, "text/plain; charset=utf-8", "internal error\n"};
    }
}

}  // namespace sluice::http
