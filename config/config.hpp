// The configuration as data: one struct per YAML section, defaults are the member initialisers.
// Every struct compares with a defaulted operator==, so a new field takes part in every
// comparison (reload decides what to restart by comparing sections).
// Error policy: loading never throws for bad input; it returns every diagnostic at once.
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "infra/pg/pooling.hpp"

namespace sluice::config {

using Duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

// Where a value came from, for messages of the form file:line:column.
struct Location {
    std::string file;
    int line = 0;    // 1-based, 0 = unknown
    int column = 0;  // 1-based, 0 = unknown

    bool operator==(const Location&) const = default;
};

struct Database {
    std::string url;  // libpq URL or key=value string; never logged
    std::string events_table = "events";
    std::string notify_channel = "sluice_events";  // = store::default_events_channel
    Duration connect_timeout = 10s;
    Duration statement_timeout = 30s;
    // transaction: url reaches a transaction-mode pool (PgBouncer, RDS Proxy), so nothing may
    // outlive a transaction: leases instead of session locks, no prepared statements, no LISTEN
    // on url (docs/operations.md, "Behind a transaction-mode pooler").
    pg::Pooling pooling = pg::Pooling::session;
    std::string listen_url;  // optional: a session-level connection for LISTEN; never logged
    Duration pooled_poll_interval = 250ms;  // the wake-up when there is no LISTEN connection

    // How often to look for work that a NOTIFY would announce: `with_listen` when there is a
    // connection to LISTEN on, else no longer than pooled_poll_interval.
    [[nodiscard]] Duration wake_up_poll(Duration with_listen) const {
        if (!pg::listen_url_for(url, listen_url, pooling).empty())
            return with_listen;
        return std::min(with_listen, pooled_poll_interval);
    }

    bool operator==(const Database&) const = default;
};

struct Tailer {
    int batch_size = 1000;
    Duration poll_interval = 1s;
    Duration horizon_warning = 30s;

    bool operator==(const Tailer&) const = default;
};

// Several instances sharing the work (see docs/operations.md, "Running several instances").
struct Coordination {
    Duration failover_after = 10s;  // an owner silent this long is replaced

    bool operator==(const Coordination&) const = default;
};

struct OnError {
    // quarantine (projections only): park the event and every later event of its aggregate,
    // which waits behind it (docs/configuration.md, "on_error").
    enum class Then { stop, park, quarantine };
    int retries = 5;
    Duration backoff = 1s;
    Then then = Then::stop;

    bool operator==(const OnError&) const = default;
};

struct Handler {
    std::string event_type;
    std::string sql;    // as written, with :named parameters
    Location location;  // of the first character of the SQL text

    bool operator==(const Handler&) const = default;
};

struct Projection {
    // What the daemon does when the read model was built by another definition (setup,
    // handlers, filters, partitions, schema: projections/definition.hpp): `rebuild` asks for a
    // blue/green rebuild (only with schema:); `continue_` runs on and reports it. The default
    // is rebuild with schema: (readers never see the rebuild), continue_ without (an in-place
    // rebuild would empty the read model under the readers).
    enum class OnChange { rebuild, continue_ };

    std::string name;
    std::vector<std::string> aggregate_types;  // empty = all
    std::string setup;
    std::string reset;
    std::vector<Handler> handlers;  // in file order
    OnError on_error;
    int partitions = 1;
    // The PostgreSQL schema the projection owns (empty: none): setup, reset and handlers run
    // with it first on the search_path, and `sluice rebuild` builds the next generation beside
    // it (docs/operations.md, "Changing a projection").
    std::string schema;
    Location schema_location;
    std::string verify;               // a boolean query a new generation must pass; empty: none
    std::vector<std::string> grants;  // roles given USAGE on the schema, SELECT on its tables
    OnChange on_change = OnChange::continue_;  // set to rebuild when read with schema:
    Location location;

    bool operator==(const Projection&) const = default;
};

// An aggregate type's state as a fold in SQL, kept as snapshots (docs/configuration.md,
// "snapshots"). `apply` reuses Handler: one jsonb expression per event type over :state and the
// event's parameters.
struct Snapshot {
    std::string aggregate_type;
    std::string initial;         // a jsonb expression, without parameters
    Location initial_location;   // of its first character
    std::vector<Handler> apply;  // in file order
    int every = 100;             // a snapshot at each version that is a multiple of this
    int keep = 2;                // snapshots kept per aggregate
    OnError on_error;
    int partitions = 1;
    Location location;

    bool operator==(const Snapshot&) const = default;
};

// One step of event versioning (docs/configuration.md, "upcasters"): an event of `event_type` for
// which `when` holds (every one when it is empty) is seen with `payload` as its payload and, when
// `rename_to` is set, under that type. Steps apply in list order, each to what the earlier ones
// made of the event; the stored event never changes.
struct Upcaster {
    std::string event_type;
    std::string when;        // boolean expression; empty = always
    Location when_location;  // of its first character
    std::string payload;     // jsonb expression; empty = the payload unchanged
    Location payload_location;
    std::string rename_to;  // empty = the type unchanged
    Location location;

    bool operator==(const Upcaster&) const = default;
};

struct Tls {
    bool verify = true;
    std::string ca_file;
    std::string client_cert;
    std::string client_key;

    bool operator==(const Tls&) const = default;
};

struct Retry {
    std::vector<Duration> schedule = {5s, 5min, 30min, 2h, 5h, 10h, 10h};
    double jitter = 0.2;  // fraction, 0..1

    bool operator==(const Retry&) const = default;
};

enum class Ordering { per_aggregate, none };

// A SQL expression over one event, as written, with :named event parameters (a webhook's
// `filter:` or `body:`); location is where its text begins.
struct EventExpression {
    std::string sql;
    Location location;

    bool operator==(const EventExpression&) const = default;
};

// A webhook's circuit breaker (outbox/circuit.hpp): after `failures` consecutive failed
// attempts, nothing is sent for `cool_down`, then one request probes; each failed probe doubles
// the cool-down, up to `max_cool_down`.
struct Circuit {
    int failures = 10;
    Duration cool_down = 30s;
    Duration max_cool_down = 10min;

    bool operator==(const Circuit&) const = default;
};

// Requests started per second (rate_limit: 20/s), per instance; 0 = no limit.
struct RateLimit {
    double per_second = 0;

    bool operator==(const RateLimit&) const = default;
};

// Several messages per request (a JSON array of envelopes): at most `max_events` each; a message
// waits at most `max_wait` after it is due for others to join it. max_events 0 = off.
struct Batch {
    int max_events = 0;
    Duration max_wait = 50ms;

    [[nodiscard]] bool enabled() const { return max_events > 0; }
    bool operator==(const Batch&) const = default;
};

struct Webhook {
    std::string name;
    std::string url;
    std::vector<std::string> secrets;          // whsec_<base64>; never logged
    std::vector<std::string> event_types;      // empty = all
    std::vector<std::string> aggregate_types;  // empty = all
    std::vector<std::pair<std::string, std::string>> headers;
    Duration timeout = 15s;
    Retry retry;
    Ordering ordering = Ordering::per_aggregate;
    int max_in_flight = 64;
    Tls tls;
    std::optional<EventExpression> filter;  // boolean: only events it is true for are enqueued
    std::optional<EventExpression> body;    // jsonb: the envelope's `data` instead of the event
    OnError on_error;                       // when enqueueing one event fails (a body's error)
    Circuit circuit;
    RateLimit rate_limit;
    Batch batch;
    // No successful delivery for this long while attempts keep failing disables the endpoint
    // like a 410 (0 = never). Svix's figure.
    Duration disable_after = std::chrono::hours(24 * 5);
    std::string notify;  // webhook that receives this one's operational events; empty = none
    Location location;
    Location notify_location;  // of the notify value

    bool operator==(const Webhook&) const = default;
};

struct Outbox {
    Duration retention = std::chrono::hours(24 * 7);
    int claim_batch = 256;
    std::size_t max_response_bytes = 4096;  // stored per attempt

    bool operator==(const Outbox&) const = default;
};

struct Http {
    bool enabled = true;
    std::string listen = "127.0.0.1:9464";
    std::size_t max_request_bytes = 64 * 1024;

    bool operator==(const Http&) const = default;
};

struct Log {
    std::string level = "info";  // debug | info | warn | error

    bool operator==(const Log&) const = default;
};

struct Config {
    std::string source_file;
    Database database;
    Tailer tailer;
    Coordination coordination;
    std::vector<Projection> projections;
    std::vector<Webhook> webhooks;
    std::vector<Snapshot> snapshots;
    std::vector<Upcaster> upcasters;  // in file order, which is the order they apply in
    Outbox outbox;
    Http http;
    Log log;

    bool operator==(const Config&) const = default;
};

// Copies with every Location cleared: they compare what a section says, not where it is written
// (reload restarts nothing because a section moved in the file).
[[nodiscard]] inline Projection without_location(Projection p) {
    p.location = {};
    for (auto& h : p.handlers)
        h.location = {};
    return p;
}
[[nodiscard]] inline Snapshot without_location(Snapshot s) {
    s.location = {};
    s.initial_location = {};
    for (auto& h : s.apply)
        h.location = {};
    return s;
}
[[nodiscard]] inline Upcaster without_location(Upcaster u) {
    u.location = {};
    u.when_location = {};
    u.payload_location = {};
    return u;
}
[[nodiscard]] inline Webhook without_location(Webhook w) {
    w.location = {};
    w.notify_location = {};
    return w;
}

// One problem found while loading, e.g. "sluice.yaml:12:7: unknown key 'handler'".
struct Diagnostic {
    Location where;
    std::string message;
};

[[nodiscard]] std::string format(const Diagnostic& d);

struct LoadResult {
    std::optional<Config> config;  // set only when errors is empty
    std::vector<Diagnostic> errors;
};

// Looks up ${VAR}; returns nullopt when unset. Injected so tests need not touch the process env.
using Environment = std::map<std::string, std::string>;
[[nodiscard]] Environment process_environment();

[[nodiscard]] LoadResult load_file(const std::string& path, const Environment& env);
[[nodiscard]] LoadResult load_string(const std::string& text, const std::string& file_name,
                                     const Environment& env);

}  // namespace sluice::config
