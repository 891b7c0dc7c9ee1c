#include "http_receiver.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>

namespace sluice::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string b64_decode(std::string_view in) {
    std::string out(in.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    if (n < 0)
        return {};
    std::size_t pad = in.ends_with("==") ? 2 : in.ends_with("=") ? 1 : 0;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

// Independent Standard Webhooks check (deliberately not sluice's own signer).
bool signature_ok(const ReceivedRequest& r, const std::vector<std::string>& secrets) {
    auto id = r.header("webhook-id");
    auto ts = r.header("webhook-timestamp");
    auto sig = r.header("webhook-signature");
    if (!id || !ts || !sig)
        return false;
    long long timestamp = 0;
    try {
        timestamp = std::stoll(*ts);
    } catch (const std::exception&) {
        return false;
    }
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    if (std::llabs(now - timestamp) > 300)
        return false;
    std::string content = *id + "." + *ts + "." + r.body;
    for (const auto& secret : secrets) {
        std::string key = b64_decode(std::string_view(secret).substr(secret.find('_') + 1));
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &len);
        std::size_t pos = 0;
        while (pos < sig->size()) {
            auto end = sig->find(' ', pos);
            auto entry = sig->substr(pos, end == std::string::npos ? std::string::npos : end - pos);
            pos = end == std::string::npos ? sig->size() : end + 1;
            if (!entry.starts_with("v1,"))
                continue;
            auto got = b64_decode(entry.substr(3));
            if (got.size() == len && CRYPTO_memcmp(got.data(), mac, len) == 0)
                return true;
        }
    }
    return false;
}

std::string peer_subject(SSL* ssl) {
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return {};
    char buf[512];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
    X509_free(cert);
    return buf;
}

}  // namespace

std::optional<std::string> ReceivedRequest::header(std::string_view name) const {
    auto key = lower(name);
    for (const auto& [k, v] : headers) {
        if (k == key)
            return v;
    }
    return std::nullopt;
}

struct HttpReceiver::Impl {
    HttpReceiver& owner;
    asio::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    std::optional<ssl::context> tls;

    explicit Impl(HttpReceiver& o) : owner(o) {}

    asio::awaitable<void> accept_loop() {
        while (true) {
            auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
            if (ec)
                co_return;
            std::uint64_t number;
            {
                std::lock_guard lock(owner.mutex_);
                number = ++owner.connections_;
            }
            asio::co_spawn(ioc, session(std::move(socket), number), asio::detached);
        }
    }

    asio::awaitable<void> session(tcp::socket socket, std::uint64_t number) {
        if (!tls) {
            beast::tcp_stream stream(std::move(socket));
            co_await serve(stream, number, std::string{});
            co_return;
        }
        beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
        auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
        if (ec) {
            std::lock_guard lock(owner.mutex_);
            ++owner.tls_failures_;
            co_return;
        }
        co_await serve(stream, number, peer_subject(stream.native_handle()));
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& stream, std::uint64_t number, std::string subject) {
        beast::flat_buffer buffer;
        while (true) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(16 * 1024 * 1024);
            auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
            (void)n;
            if (ec)
                co_return;
            auto& req = parser.get();
            ReceivedRequest r;
            r.method = std::string(req.method_string());
            r.target = std::string(req.target());
            r.body = req.body();
            for (const auto& field : req) {
                r.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
            }
            r.webhook_id = r.header("webhook-id").value_or("");
            r.signature_valid = signature_ok(r, owner.options_.secrets);
            r.client_subject = subject;
            r.connection = number;
            r.received_at = std::chrono::steady_clock::now();
            bool keep_alive = req.keep_alive();
            auto reaction = owner.next_reaction(r.webhook_id);
            owner.record(std::move(r));
            // (not inside the condition: GCC 12 miscompiles co_await there)
            bool stay = co_await react(stream, reaction, keep_alive);
            if (!stay)
                co_return;
        }
    }

    // Returns whether the connection stays open for another request.
    template <class Stream>
    asio::awaitable<bool> react(Stream& stream, const Reaction& reaction, bool keep_alive) {
        auto& socket = beast::get_lowest_layer(stream).socket();
        switch (reaction.kind) {
            case Reaction::Kind::hang: {
                asio::steady_timer timer(ioc);
                timer.expires_after(reaction.delay.count() ? reaction.delay
                                                           : std::chrono::hours(1));
                co_await timer.async_wait(use_tuple);
                co_return false;
            }
            case Reaction::Kind::reset: {
                std::string partial = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial";
                co_await asio::async_write(stream, asio::buffer(partial), use_tuple);
                boost::system::error_code ignored;
                socket.set_option(asio::socket_base::linger(true, 0), ignored);
                socket.close(ignored);
                co_return false;
            }
            case Reaction::Kind::slow_body: {
                std::string head =
                    "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(reaction.body_size) +
                    "\r\n\r\n";
                auto [ec, n] = co_await asio::async_write(stream, asio::buffer(head), use_tuple);
                (void)n;
                asio::steady_timer timer(ioc);
                for (std::size_t i = 0; !ec && i < reaction.body_size; ++i) {
                    timer.expires_after(reaction.delay);
                    co_await timer.async_wait(use_tuple);
                    std::tie(ec, n) =
                        co_await asio::async_write(stream, asio::buffer("x", 1), use_tuple);
                }
                co_return false;
            }
            case Reaction::Kind::respond:
                if (reaction.delay.count() > 0) {  // a slow but successful endpoint
                    asio::steady_timer timer(ioc, reaction.delay);
                    co_await timer.async_wait(use_tuple);
                }
                break;
        }
        http::response<http::string_body> res{static_cast<http::status>(reaction.status), 11};
        if (reaction.retry_after)
            res.set(http::field::retry_after, *reaction.retry_after);
        if (reaction.location)
            res.set(http::field::location, *reaction.location);
        res.body() = reaction.body;
        if (res.body().size() < reaction.body_size)
            res.body().resize(reaction.body_size, 'x');
        bool stay = keep_alive && !reaction.close;
        res.keep_alive(stay);
        res.prepare_payload();
        auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
        (void)n;
        co_return stay && !ec && !reaction.hangup;
    }
};

HttpReceiver::HttpReceiver(ReceiverOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(*this)) {
    if (!options_.cert_file.empty()) {
        auto& ctx = impl_->tls.emplace(ssl::context::tls_server);
        ctx.use_certificate_chain_file(options_.cert_file);
        ctx.use_private_key_file(options_.key_file, ssl::context::pem);
        if (!options_.client_ca_file.empty()) {
            ctx.load_verify_file(options_.client_ca_file);
            ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        }
    }
    tcp::endpoint listen(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(listen.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(listen);
    impl_->acceptor.listen();
    port_ = impl_->acceptor.local_endpoint().port();
    asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
    thread_ = std::thread([this] { impl_->ioc.run(); });
}

HttpReceiver::~HttpReceiver() {
    impl_->ioc.stop();
    thread_.join();
}

std::string HttpReceiver::url(std::string_view path) const {
    return (options_.cert_file.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") +
           std::to_string(port_) + std::string(path);
}

void HttpReceiver::script(Reaction reaction) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(reaction));
}

void HttpReceiver::script_for(const std::string& webhook_id, Reaction reaction) {
    std::lock_guard lock(mutex_);
    script_by_id_[webhook_id].push_back(std::move(reaction));
}

void HttpReceiver::set_default(Reaction reaction) {
    std::lock_guard lock(mutex_);
    default_reaction_ = std::move(reaction);
}

Reaction HttpReceiver::next_reaction(const std::string& webhook_id) {
    std::lock_guard lock(mutex_);
    if (auto it = script_by_id_.find(webhook_id);
        it != script_by_id_.end() && !it->second.empty()) {
        auto r = std::move(it->second.front());
        it->second.pop_front();
        return r;
    }
    if (!script_.empty()) {
        auto r = std::move(script_.front());
        script_.pop_front();
        return r;
    }
    return default_reaction_;
}

void HttpReceiver::record(ReceivedRequest request) {
    {
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(request));
    }
    arrived_.notify_all();
}

std::vector<ReceivedRequest> HttpReceiver::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

std::size_t HttpReceiver::count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
}

std::size_t HttpReceiver::connections_accepted() const {
    std::lock_guard lock(mutex_);
    return connections_;
}

std::size_t HttpReceiver::tls_handshake_failures() const {
    std::lock_guard lock(mutex_);
    return tls_failures_;
}

bool HttpReceiver::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

}  // namespace sluice::testing
