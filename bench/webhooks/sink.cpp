// sluice_webhook_sink: a small, fast keep-alive HTTP/1.1 sink for the webhook benchmarks. Every
// POST is answered 204 at once and counted; with --fail-percent P, a random P% of POSTs are
// answered 500 instead (a flaky receiver, for bench/soak). With --record, the event id of each
// POST answered 204 (the body's "data":{"id":N}) and its arrival time are kept and written out
// on SIGTERM/SIGINT.
//
//   sluice_webhook_sink [--port N] [--record FILE] [--fail-percent P]
//
// Prints "port=N" on stdout once listening. GET /stats answers one JSON line:
// {"posts":N,"events":N,"body_bytes":N,"first_us":T,"last_us":T,"failed":N} (posts counts every
// POST, events the messages they carried: 1 per POST, or the elements of a batch's JSON array;
// failed those answered 500; wall-clock microseconds of the first and last POST); GET /reset
// zeroes those. Loopback only; one thread (the Asio event loop).
// A benchmark tool, not part of the daemon. Error policy: bad arguments exit 2; a connection
// that errors or sends a request over 1 MiB is closed; nothing else ends the process.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_body = 1024 * 1024;
constexpr auto idle_timeout = std::chrono::seconds(60);

struct Arrival {
    std::int64_t event_id;
    std::int64_t at_us;
};

struct Totals {
    std::uint64_t posts = 0;
    std::uint64_t events = 0;
    std::uint64_t body_bytes = 0;
    std::int64_t first_us = 0;
    std::int64_t last_us = 0;
    std::uint64_t failed = 0;
};

// Everything lives on the one event-loop thread: no locks.
struct Sink {
    bool record = false;
    int fail_percent = 0;
    std::minstd_rand random{std::random_device{}()};
    Totals totals;
    std::vector<Arrival> arrivals;
};

std::int64_t wall_clock_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The event id from a sluice webhook body; -1 when there is none.
std::int64_t event_id(const std::string& body) {
    constexpr std::string_view marker = R"("data":{"id":)";
    auto at = body.find(marker);
    if (at == std::string::npos)
        return -1;
    return std::strtoll(body.c_str() + at + marker.size(), nullptr, 10);
}

// The messages a body carries: a batch (a JSON array, as sluice writes it) has one element per
// message, each starting {"id":"msg_..."; anything else is one message. Counted by that marker,
// not parsed: a benchmark sink must stay far faster than what it measures.
std::uint64_t messages_in(const std::string& body) {
    if (body.empty() || body.front() != '[')
        return 1;
    constexpr std::string_view marker = R"({"id":"msg_)";
    std::uint64_t n = 0;
    for (auto at = body.find(marker); at != std::string::npos; at = body.find(marker, at + 1))
        ++n;
    return n;
}

http::response<http::string_body> answer(Sink& sink, const http::request<http::string_body>& req) {
    http::response<http::string_body> res;
    res.version(11);
    res.keep_alive(req.keep_alive());
    if (req.method() == http::verb::post) {
        auto now = wall_clock_us();
        auto& t = sink.totals;
        if (t.posts == 0)
            t.first_us = now;
        t.last_us = now;
        ++t.posts;
        t.events += messages_in(req.body());
        t.body_bytes += req.body().size();
        if (sink.fail_percent > 0 &&
            std::uniform_int_distribution<int>(0, 99)(sink.random) < sink.fail_percent) {
            ++t.failed;
            res.result(http::status::internal_server_error);
            res.prepare_payload();
            return res;
        }
        if (sink.record)
            sink.arrivals.push_back({event_id(req.body()), now});
        res.result(http::status::no_content);
        return res;
    }
    if (req.target() == "/reset")
        sink.totals = {};
    if (req.target() == "/stats" || req.target() == "/reset") {
        const auto& t = sink.totals;
        res.result(http::status::ok);
        res.set(http::field::content_type, "application/json");
        res.body() = "{\"posts\":" + std::to_string(t.posts) +
                     ",\"events\":" + std::to_string(t.events) +
                     ",\"body_bytes\":" + std::to_string(t.body_bytes) +
                     ",\"first_us\":" + std::to_string(t.first_us) +
                     ",\"last_us\":" + std::to_string(t.last_us) +
                     ",\"failed\":" + std::to_string(t.failed) + "}\n";
    } else {
        res.result(http::status::not_found);
    }
    res.prepare_payload();
    return res;
}

asio::awaitable<void> serve(tcp::socket socket, Sink& sink) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    while (true) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_body);
        stream.expires_after(idle_timeout);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
        (void)n;
        if (ec)
            co_return;
        auto res = answer(sink, parser.get());
        bool keep_alive = res.keep_alive();
        auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
        (void)wn;
        if (wec || !keep_alive)
            co_return;
    }
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, Sink& sink) {
    while (true) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec)
            co_return;
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), sink), asio::detached);
    }
}

[[noreturn]] void usage(const std::string& problem) {
    std::cerr << "sluice_webhook_sink: " << problem
              << "\nusage: sluice_webhook_sink [--port N] [--record FILE] [--fail-percent P]\n";
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    unsigned short port = 0;
    std::string record_file;
    int fail_percent = 0;
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        if (i + 1 >= argc)
            usage(flag + " needs a value");
        std::string value = argv[++i];
        if (flag == "--port") {
            port = static_cast<unsigned short>(std::strtoul(value.c_str(), nullptr, 10));
        } else if (flag == "--record") {
            record_file = value;
        } else if (flag == "--fail-percent") {
            char* end = nullptr;
            long p = std::strtol(value.c_str(), &end, 10);
            if (end == value.c_str() || *end != '\0' || p < 0 || p > 100)
                usage("--fail-percent must be an integer between 0 and 100, got '" + value + "'");
            fail_percent = static_cast<int>(p);
        } else {
            usage("unknown option " + flag);
        }
    }
    Sink sink;
    sink.record = !record_file.empty();
    sink.fail_percent = fail_percent;
    if (sink.record)
        sink.arrivals.reserve(1 << 20);

    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    std::cout << "port=" << acceptor.local_endpoint().port() << std::endl;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    asio::co_spawn(io, accept(acceptor, sink), asio::detached);
    io.run();

    if (sink.record) {
        std::ofstream out(record_file, std::ios::trunc);
        for (const auto& a : sink.arrivals)
            out << a.event_id << '\t' << a.at_us << '\n';
        if (!out) {
            std::cerr << "sluice_webhook_sink: cannot write " << record_file << "\n";
            return 1;
        }
    }
    return 0;
}
