// A loopback webhook receiver for tests: an HTTP/1.1 (optionally HTTPS, optionally requiring
// client certificates) server on 127.0.0.1:<ephemeral> running on its own thread. It checks
// Standard Webhooks signatures with its own HMAC code (independent of sluice's signer), records
// every request, and answers as scripted: a status (with Retry-After / Location), a hang, a
// connection reset mid-response, or a slowly trickled body.
// Thread-safety: every public member may be called from the test thread while the receiver
// runs. Error policy: construction throws std::runtime_error when it cannot listen or load the
// TLS files; serving errors only end the affected connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::testing {

struct ReceivedRequest {
    std::string method;
    std::string target;
    std::string webhook_id;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    bool signature_valid = false;  // signature matches one secret and timestamp within 5 min
    std::string client_subject;    // peer certificate subject under mTLS, else empty
    std::uint64_t connection = 0;  // which accepted connection carried it (1-based)
    std::chrono::steady_clock::time_point received_at{};  // when its body had arrived

    [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

struct Reaction {
    enum class Kind { respond, hang, reset, slow_body };
    Kind kind = Kind::respond;
    int status = 200;
    std::optional<std::string> retry_after;
    std::optional<std::string> location;
    std::string body;
    std::size_t body_size = 0;          // pad body with 'x' up to this size (large responses)
    std::chrono::milliseconds delay{};  // respond: wait this long first; hang: how long
                                        // (0 = until the receiver stops); slow_body: pause
                                        // between body bytes
    bool close = false;                 // answer with Connection: close
    bool hangup = false;  // after answering (as keep-alive), close the connection silently,
                          // like a server whose idle timeout expired

    static Reaction status_code(int status) { return Reaction{.status = status}; }
    static Reaction hang() { return Reaction{.kind = Kind::hang}; }
    static Reaction reset() { return Reaction{.kind = Kind::reset}; }
    static Reaction slow_body(std::chrono::milliseconds per_byte, std::size_t bytes) {
        return Reaction{.kind = Kind::slow_body, .body_size = bytes, .delay = per_byte};
    }
};

struct ReceiverOptions {
    std::vector<std::string> secrets;  // whsec_... used to check signatures
    std::string cert_file;             // HTTPS when set (PEM chain)
    std::string key_file;
    std::string client_ca_file;  // when set, clients must present a certificate it signed
};

class HttpReceiver {
  public:
    explicit HttpReceiver(ReceiverOptions options = {});
    HttpReceiver(const HttpReceiver&) = delete;
    HttpReceiver& operator=(const HttpReceiver&) = delete;
    ~HttpReceiver();

    [[nodiscard]] unsigned short port() const { return port_; }
    // "http(s)://127.0.0.1:<port><path>"
    [[nodiscard]] std::string url(std::string_view path = "/hook") const;

    // Reactions are consumed in order: first the queue for the request's webhook-id, then the
    // general queue, then the default (200 unless changed).
    void script(Reaction reaction);
    void script_for(const std::string& webhook_id, Reaction reaction);
    void set_default(Reaction reaction);

    [[nodiscard]] std::vector<ReceivedRequest> requests() const;
    [[nodiscard]] std::size_t count() const;
    [[nodiscard]] std::size_t connections_accepted() const;
    [[nodiscard]] std::size_t tls_handshake_failures() const;
    // Waits (bounded) until at least n requests arrived; false on timeout.
    [[nodiscard]] bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;

    struct Impl;  // Asio state, defined in http_receiver.cpp

  private:
    Reaction next_reaction(const std::string& webhook_id);
    void record(ReceivedRequest request);
    friend struct Impl;

    ReceiverOptions options_;
    unsigned short port_ = 0;

    mutable std::mutex mutex_;
    mutable std::condition_variable arrived_;
    std::vector<ReceivedRequest> requests_;
    std::deque<Reaction> script_;
    std::map<std::string, std::deque<Reaction>> script_by_id_;
    Reaction default_reaction_;
    std::size_t connections_ = 0;
    std::size_t tls_failures_ = 0;

    // Declared last: the serving thread uses everything above and is stopped first.
    std::unique_ptr<Impl> impl_;
    std::thread thread_;
};

}  // namespace sluice::testing
