// The HTTP client against the loopback receiver: statuses, keep-alive reuse, deadlines, broken
// connections, body limits, and TLS (CA verification, host names, mTLS).
#include "outbox/http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "http_receiver.hpp"
#include "outbox/envelope.hpp"
#include "test_database.hpp"
#include "tls_files.hpp"

namespace sluice::outbox {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::HttpReceiver;
using testing::Reaction;
using testing::ReceiverOptions;

const std::vector<std::string> secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};

Message message(std::int64_t event_id = 1) {
    config::Webhook w;
    w.name = "orders";
    w.secrets = secrets;
    w.headers = {{"X-Tenant", "acme"}};
    WebhookEvent e;
    e.id = event_id;
    e.aggregate_id = "6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77";
    e.aggregate_type = "Order";
    e.version = 1;
    e.event_type = "OrderCreated";
    e.payload = R"({"total": 3})";
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now().time_since_epoch());
    return build_message(w, e, now.count());
}

class HttpClientTest : public ::testing::Test {
  protected:
    HttpClient& client(ClientOptions options) {
        client_.emplace(ioc_.get_executor(), std::move(options));
        return *client_;
    }

    Response post(const Message& m = message()) {
        std::optional<Response> out;
        asio::co_spawn(
            ioc_,
            [&]() -> asio::awaitable<void> { out = co_await client_->post(m.headers, m.body); },
            [](std::exception_ptr e) {
                if (e)
                    std::rethrow_exception(e);
            });
        ioc_.restart();
        ioc_.run_for(30s);
        EXPECT_TRUE(out.has_value()) << "post did not complete within 30 s";
        return out.value_or(Response{});
    }

    void TearDown() override {
        client_.reset();
        ioc_.restart();
        EXPECT_EQ(ioc_.poll(), 0u) << "work left on the io_context";
    }

    asio::io_context ioc_;
    std::optional<HttpClient> client_;
};

TEST_F(HttpClientTest, DeliversASignedPostAndReportsTheStatus) {
    HttpReceiver receiver({.secrets = secrets});
    client({.url = receiver.url("/in/orders?x=1")});
    auto r = post();

    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.error, ErrorKind::none) << r.error_message;
    ASSERT_EQ(receiver.count(), 1u);
    auto got = receiver.requests()[0];
    EXPECT_EQ(got.method, "POST");
    EXPECT_EQ(got.target, "/in/orders?x=1");
    EXPECT_TRUE(got.signature_valid);
    EXPECT_EQ(got.webhook_id, "msg_orders_1");
    EXPECT_EQ(got.header("content-type"), "application/json");
    EXPECT_EQ(got.header("x-tenant"), "acme");
    EXPECT_EQ(got.header("host"), "127.0.0.1:" + std::to_string(receiver.port()));
}

TEST_F(HttpClientTest, ReusesAKeepAliveConnection) {
    HttpReceiver receiver({.secrets = secrets});
    client({.url = receiver.url()});
    auto first = post(message(1));
    auto second = post(message(2));

    EXPECT_EQ(second.status, 200);
    EXPECT_FALSE(first.reused_connection);
    EXPECT_TRUE(second.reused_connection);
    EXPECT_EQ(receiver.connections_accepted(), 1u);
    EXPECT_EQ(client_->idle_connections(), 1u);
}

TEST_F(HttpClientTest, ReportsErrorStatusesAndRetryAfter) {
    HttpReceiver receiver;
    client({.url = receiver.url()});
    receiver.script(Reaction{.status = 429, .retry_after = "7"});
    receiver.script(Reaction::status_code(503));
    receiver.script(Reaction::status_code(410));
    receiver.script(Reaction{.status = 500, .body = "boom"});

    auto r429 = post();
    EXPECT_EQ(r429.status, 429);
    EXPECT_EQ(r429.retry_after, "7");
    EXPECT_EQ(post().status, 503);
    EXPECT_EQ(post().status, 410);
    auto r500 = post();
    EXPECT_EQ(r500.status, 500);
    EXPECT_EQ(r500.body, "boom");
    EXPECT_EQ(r500.error, ErrorKind::none);
}

TEST_F(HttpClientTest, NeverFollowsRedirects) {
    HttpReceiver receiver;
    client({.url = receiver.url()});
    receiver.script(Reaction{.status = 301, .location = receiver.url("/elsewhere")});

    EXPECT_EQ(post().status, 301);
    EXPECT_EQ(receiver.count(), 1u);
}

TEST_F(HttpClientTest, TimesOutAHangingEndpointAndDiscardsTheConnection) {
    HttpReceiver receiver;
    client({.url = receiver.url(), .timeout = 300ms});
    receiver.script(Reaction::hang());

    auto r = post();
    EXPECT_EQ(r.error, ErrorKind::timeout);
    EXPECT_EQ(r.status, 0);
    EXPECT_GE(r.duration, 300ms);
    EXPECT_LT(r.duration, 5s);
    EXPECT_NE(r.error_message.find("timed out after 300 ms"), std::string::npos) << r.error_message;
    EXPECT_EQ(client_->idle_connections(), 0u);

    EXPECT_EQ(post().status, 200);
    EXPECT_EQ(receiver.connections_accepted(), 2u);
}

TEST_F(HttpClientTest, TimesOutASlowBodyWithinTheSameDeadline) {
    HttpReceiver receiver;
    client({.url = receiver.url(), .timeout = 400ms});
    receiver.script(Reaction::slow_body(50ms, 100));

    auto r = post();
    EXPECT_EQ(r.error, ErrorKind::timeout);
    EXPECT_EQ(r.status, 200) << "the status line arrived before the deadline";
    EXPECT_LT(r.duration, 5s);
}

TEST_F(HttpClientTest, ReportsAResetMidResponseAsANetworkError) {
    HttpReceiver receiver;
    client({.url = receiver.url()});
    receiver.script(Reaction::reset());

    auto r = post();
    EXPECT_EQ(r.error, ErrorKind::network) << r.error_message;
    EXPECT_FALSE(r.error_message.empty());
    EXPECT_EQ(client_->idle_connections(), 0u);
    EXPECT_EQ(post().status, 200);
}

TEST_F(HttpClientTest, RetriesOnAFreshConnectionWhenTheIdleOneWasClosed) {
    HttpReceiver receiver;
    client({.url = receiver.url()});
    receiver.script(Reaction{.hangup = true});

    EXPECT_EQ(post(message(1)).status, 200);
    ASSERT_TRUE(testing::wait_until([&] { return receiver.connections_accepted() == 1; }, 5s));
    auto r = post(message(2));
    EXPECT_EQ(r.status, 200) << r.error_message;
    EXPECT_EQ(r.error, ErrorKind::none);
    EXPECT_EQ(receiver.connections_accepted(), 2u);
}

TEST_F(HttpClientTest, KeepsOnlyTheFirstBytesOfALongBody) {
    HttpReceiver receiver;
    client({.url = receiver.url(), .keep_response_bytes = 4096});
    receiver.script(Reaction{.body_size = 100000});

    auto r = post();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.error, ErrorKind::none);
    EXPECT_EQ(r.body.size(), 4096u);
    EXPECT_EQ(client_->idle_connections(), 1u) << "a fully read response keeps the connection";
}

TEST_F(HttpClientTest, FailsABodyOverTheReadLimit) {
    HttpReceiver receiver;
    client({.url = receiver.url(), .body_limit = 64 * 1024});
    receiver.script(Reaction{.body_size = 200000});

    auto r = post();
    EXPECT_EQ(r.error, ErrorKind::network);
    EXPECT_NE(r.error_message.find("exceeds 65536 bytes"), std::string::npos) << r.error_message;
    EXPECT_EQ(client_->idle_connections(), 0u);
}

TEST_F(HttpClientTest, ReportsARefusedConnectionAsANetworkError) {
    std::string url;
    {
        HttpReceiver gone;
        url = gone.url();
    }
    client({.url = url});
    auto r = post();
    EXPECT_EQ(r.error, ErrorKind::network);
    EXPECT_NE(r.error_message.find("connecting to 127.0.0.1"), std::string::npos)
        << r.error_message;
}

TEST_F(HttpClientTest, NeverPutsUrlCredentialsIntoErrors) {
    std::string port;
    {
        HttpReceiver gone;
        port = std::to_string(gone.port());
    }
    client({.url = "http://user:s3cret@127.0.0.1:" + port + "/x?token=t0ken"});
    auto r = post();
    EXPECT_EQ(r.error_message.find("s3cret"), std::string::npos) << r.error_message;
    EXPECT_EQ(r.error_message.find("t0ken"), std::string::npos) << r.error_message;
}

TEST_F(HttpClientTest, SendsUrlUserInfoAsBasicAuth) {
    HttpReceiver receiver;
    client({.url = "http://user:pw@127.0.0.1:" + std::to_string(receiver.port()) + "/hook"});
    EXPECT_EQ(post().status, 200);
    EXPECT_EQ(receiver.requests().at(0).header("authorization"), "Basic dXNlcjpwdw==");
}

// --- TLS ------------------------------------------------------------------------------------

class HttpsClientTest : public HttpClientTest {
  protected:
    static void SetUpTestSuite() { files_ = new testing::TlsFiles(); }
    static void TearDownTestSuite() {
        delete files_;
        files_ = nullptr;
    }
    static ReceiverOptions server(const std::string& name = "server") {
        return {.secrets = secrets,
                .cert_file = files_->path(name + ".pem"),
                .key_file = files_->path(name + ".key")};
    }
    static inline testing::TlsFiles* files_ = nullptr;
};

TEST_F(HttpsClientTest, VerifiesTheServerWithTheConfiguredCa) {
    HttpReceiver receiver(server());
    client({.url = receiver.url(), .tls = {.ca_file = files_->ca()}});
    auto r = post();
    EXPECT_EQ(r.status, 200) << r.error_message;
    EXPECT_TRUE(receiver.requests().at(0).signature_valid);
    EXPECT_TRUE(post().reused_connection);
}

TEST_F(HttpsClientTest, VerifiesAHostNameWithSni) {
    HttpReceiver receiver(server());
    client({.url = "https://localhost:" + std::to_string(receiver.port()) + "/hook",
            .tls = {.ca_file = files_->ca()}});
    auto r = post();
    EXPECT_EQ(r.status, 200) << r.error_message;
}

TEST_F(HttpsClientTest, FailsClearlyWithoutTheCa) {
    HttpReceiver receiver(server());
    client({.url = receiver.url()});
    auto r = post();
    EXPECT_EQ(r.error, ErrorKind::tls);
    EXPECT_NE(r.error_message.find("certificate verify failed"), std::string::npos)
        << r.error_message;
    EXPECT_NE(r.error_message.find("unable to get local issuer certificate"), std::string::npos)
        << r.error_message;
    EXPECT_EQ(receiver.count(), 0u);
}

TEST_F(HttpsClientTest, FailsWhenTheCertificateNamesAnotherHost) {
    HttpReceiver receiver(server("wrong"));
    client({.url = receiver.url(), .tls = {.ca_file = files_->ca()}});
    auto r = post();
    EXPECT_EQ(r.error, ErrorKind::tls);
    EXPECT_NE(r.error_message.find("mismatch"), std::string::npos) << r.error_message;
}

TEST_F(HttpsClientTest, AcceptsAnUntrustedServerOnlyWhenVerifyIsOff) {
    HttpReceiver receiver(server("wrong"));
    client({.url = receiver.url(), .tls = {.verify = false}});
    EXPECT_EQ(post().status, 200);
}

TEST_F(HttpsClientTest, PresentsTheClientCertificateForMutualTls) {
    auto options = server();
    options.client_ca_file = files_->ca();
    HttpReceiver receiver(options);
    client({.url = receiver.url(),
            .tls = {.ca_file = files_->ca(),
                    .client_cert = files_->path("client.pem"),
                    .client_key = files_->path("client.key")}});
    auto r = post();
    EXPECT_EQ(r.status, 200) << r.error_message;
    EXPECT_EQ(receiver.requests().at(0).client_subject, "/CN=sluice-client");
}

TEST_F(HttpsClientTest, IsRejectedByAMutualTlsServerWithoutAClientCertificate) {
    auto options = server();
    options.client_ca_file = files_->ca();
    HttpReceiver receiver(options);
    client({.url = receiver.url(), .tls = {.ca_file = files_->ca()}});
    auto r = post();
    EXPECT_NE(r.error, ErrorKind::none);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(receiver.count(), 0u);
}

TEST_F(HttpsClientTest, RejectsUnreadableTlsFilesAtConstruction) {
    EXPECT_THROW(HttpClient(ioc_.get_executor(), {.url = "https://127.0.0.1:1/",
                                                  .tls = {.ca_file = "/nonexistent.pem"}}),
                 std::runtime_error);
}

}  // namespace
}  // namespace sluice::outbox
