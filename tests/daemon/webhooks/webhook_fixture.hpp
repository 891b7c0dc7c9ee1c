// Shared ground for the end-to-end webhook suites: every test gets its own migrated database, a
// temp directory for its config, a writer to append events with, and helpers to read what the
// daemon delivered (the receiver's requests, parsed), what it stored (sluice.outbox), what it
// exports (/metrics) and what the `sluice outbox` commands print.
// Error policy: helpers throw (failing the test) on database, process or HTTP failures; waits
// are bounded and return whether their condition held.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon_fixture.hpp"
#include "daemon_process.hpp"
#include "http_receiver.hpp"
#include "test_database.hpp"

namespace sluice::testing {

using namespace std::chrono_literals;

inline const std::string secret_a = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
inline const std::string secret_b = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY";

// One delivered request as the webhook body describes it.
struct Delivery {
    std::string webhook_id;
    std::string type;
    std::string timestamp;
    std::int64_t event_id = 0;
    std::string aggregate_id;
    std::string aggregate_type;
    std::int64_t version = 0;
    std::string body;
    bool signature_valid = false;
};

// Parses a received request's body (throws on anything that is not the documented envelope).
[[nodiscard]] Delivery parse_delivery(const ReceivedRequest& request);
[[nodiscard]] std::vector<Delivery> parse_deliveries(const std::vector<ReceivedRequest>& requests);
// The messages of a batch request (a JSON array of envelopes), in body order: each Delivery's
// webhook_id is the element's own "id"; body and signature_valid are the whole request's. Throws
// unless the body is an array of documented envelopes, each with an "id".
[[nodiscard]] std::vector<Delivery> parse_batch(const ReceivedRequest& request);

// One webhook item of the config, in YAML: timeout 2s, retry {schedule: [100ms, 200ms,
// 300ms], jitter: 0%} and no circuit breaker (circuit: {failures: 1000000}, so suites about
// retries see every attempt) unless `extra` sets them. `extra` is appended as further keys, each
// line indented by four spaces, e.g. "    ordering: none\n".
[[nodiscard]] std::string webhook_yaml(const std::string& name, const std::string& url,
                                       const std::string& extra = "",
                                       const std::vector<std::string>& secrets = {secret_a});

// DaemonTest with a migrated database (events are appended before sluice starts) and the
// webhook-specific views: the outbox, its metrics and the `sluice outbox` commands.
class WebhookTest : public DaemonTest {
  protected:
    void SetUp() override;

    // `database:`, `tailer:`, `http: {listen: 127.0.0.1:0}` and `log:`, then `webhooks:` with
    // the given items, then `rest` verbatim (e.g. a projections: section). Written to
    // <temp dir>/sluice.yaml; returns the path.
    std::string write_config(const std::vector<std::string>& webhooks,
                             const std::string& rest = "");

    // Appends versions 1..versions of a new aggregate with the event writer, one transaction;
    // returns the aggregate id.
    std::string append_aggregate(int versions, const std::string& event_type = "OrderPlaced");
    // Appends `aggregates` new aggregates with `versions` events each (bulk writer).
    std::vector<std::string> append_many(int aggregates, int versions);

    // Rows of sluice.outbox for `webhook` in `state`.
    [[nodiscard]] std::int64_t outbox_rows(const std::string& webhook, const std::string& state);
    [[nodiscard]] bool wait_outbox_rows(const std::string& webhook, const std::string& state,
                                        std::int64_t n, std::chrono::milliseconds timeout);

    // The value of one sample of /metrics, e.g. metric("sluice_outbox_dead", "hook"); nullopt
    // when the series is absent.
    [[nodiscard]] static std::optional<double> metric(DaemonProcess& daemon,
                                                      const std::string& name,
                                                      const std::string& webhook,
                                                      const std::string& extra_labels = "");
    // Runs `sluice outbox <args> --config <config>`; returns its output; fails the test unless
    // it exits 0 within 20 s.
    std::string outbox_cli(const std::vector<std::string>& args);

    // For failure messages: the outbox queue, then what DaemonTest::diagnose says.
    [[nodiscard]] std::string diagnose(DaemonProcess& daemon);

    std::string config_path_;
};

}  // namespace sluice::testing
