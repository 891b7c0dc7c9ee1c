#include "daemon/commands/http_get.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "infra/http/listen_address.hpp"

namespace sluice::daemon {

std::optional<std::string> http_get(const std::string& listen_address, const std::string& path,
                                    std::chrono::milliseconds timeout) {
    auto answer = http_request(listen_address, "GET", path, timeout);
    if (!answer || answer->status / 100 != 2)
        return std::nullopt;
    return std::move(answer->body);
}

std::optional<HttpAnswer> http_request(const std::string& listen_address, const std::string& method,
                                       const std::string& path, std::chrono::milliseconds timeout) {
    namespace beast = boost::beast;
    auto endpoint = http::parse_listen_address(listen_address);
    if (!endpoint)
        return std::nullopt;
    if (endpoint->address().is_unspecified()) {
        endpoint->address(boost::asio::ip::address_v4::loopback());
    }
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    beast::flat_buffer buffer;
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    beast::error_code ec;
    stream.expires_after(timeout);
    stream.async_connect(*endpoint, [&](beast::error_code e) {
        if (e) {
            ec = e;
            return;
        }
        auto request = std::make_shared<beast::http::request<beast::http::empty_body>>(
            beast::http::string_to_verb(method), path, 11);
        request->set(beast::http::field::host, listen_address);
        if (method == "POST")
            request->content_length(0);
        beast::http::async_write(stream, *request, [&, request](beast::error_code e2, std::size_t) {
            if (e2) {
                ec = e2;
                return;
            }
            beast::http::async_read(stream, buffer, parser,
                                    [&](beast::error_code e3, std::size_t) { ec = e3; });
        });
    });
    io.run();
    if (ec || !parser.is_done())
        return std::nullopt;
    auto& response = parser.get();
    return HttpAnswer{response.result_int(), response.body()};
}

}  // namespace sluice::daemon
