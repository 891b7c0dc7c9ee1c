// Conversion of webhooks and their retry and TLS settings. URLs, secrets and header values may
// carry credentials, so messages here never quote them.
#include <set>

#include "config/sections.hpp"
#include "config/units.hpp"
#include "config/validate.hpp"

namespace sluice::config {
namespace {

constexpr std::size_t max_schedule_length = 100;
// A batch waits in the worker's claim for at most this long: longer would hold a lone message
// back further than any receiver asking for batches wants.
constexpr Duration max_batch_wait = std::chrono::minutes(1);

void read_secrets(Reader& r, const YAML::Node& node, const std::string& scope, Webhook& out) {
    r.for_each_item(node, "secrets", scope, [&](const YAML::Node& item, std::size_t i) {
        const std::string key = "secrets[" + std::to_string(i) + "]";
        const auto text = r.scalar(item, key, scope);
        if (!text) {
            return;
        }
        if (const auto problem = check_secret(text->text); !problem.empty()) {
            r.field_error(item, key, scope, problem);
            return;
        }
        out.secrets.push_back(text->text);
    });
    r.for_each_item(node, "secrets_file", scope, [&](const YAML::Node& item, std::size_t i) {
        const std::string key = "secrets_file[" + std::to_string(i) + "]";
        const auto path = r.scalar(item, key, scope);
        if (!path) {
            return;
        }
        auto secret = r.read_file(*path, key, scope);
        if (!secret) {
            return;
        }
        if (const auto problem = check_secret(*secret); !problem.empty()) {
            r.field_error(item, key, scope, problem + " (in '" + r.resolve_path(path->text) + "')");
            return;
        }
        out.secrets.push_back(std::move(*secret));
    });
}

void read_headers(Reader& r, const YAML::Node& node, const std::string& scope, Webhook& out) {
    const auto headers = Reader::value_of(node, "headers");
    if (!headers.IsDefined() || headers.IsNull()) {
        return;
    }
    if (!headers.IsMap()) {
        r.field_error(headers, "headers", scope,
                      "expected a mapping of header name to value, got " +
                          std::string(describe_kind(headers)));
        return;
    }
    const std::string headers_scope = "headers of " + scope;
    if (!r.expect_free_mapping(headers, headers_scope)) {
        return;
    }
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : headers) {
        if (!entry.first.IsScalar() || seen.count(entry.first.Scalar()) != 0) {
            continue;  // reported by the mapping check
        }
        seen.insert(entry.first.Scalar());
        const auto& name = entry.first.Scalar();
        const auto value = r.scalar(entry.second, name, headers_scope);
        if (!value) {
            continue;
        }
        if (const auto problem = check_header(name, value->text); !problem.empty()) {
            r.error(r.at(entry.first), headers_scope + ": " + problem);
            continue;
        }
        out.headers.emplace_back(name, value->text);
    }
}

// `filter:` or `body:`: one SQL expression over the event; its parameters are checked here, its
// SQL and its type when sluice prepares it (check-config --connect, or the daemon's start).
void read_expression(Reader& r, const YAML::Node& node, std::string_view key,
                     const std::string& scope, std::optional<EventExpression>& out) {
    const auto value = Reader::value_of(node, key);
    if (!value.IsDefined() || value.IsNull()) {
        return;
    }
    const auto text = r.scalar(value, key, scope);
    if (!text) {
        return;
    }
    const auto first = text->text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
        r.field_error(value, key, scope, "empty SQL expression (leave the key out instead)");
        return;
    }
    check_event_params(r, *text, std::string(key) + " of " + scope);
    out = EventExpression{text->text, r.at(*text, first)};
}

}  // namespace

void read_webhook(Reader& r, const YAML::Node& node, std::size_t index, Webhook& out) {
    const std::string scope = item_scope(node, "webhook", "webhooks", index);
    if (!open_item(
            r, node, scope,
            {"name",    "url",     "secrets",  "secrets_file", "event_types",   "aggregate_types",
             "headers", "timeout", "retry",    "ordering",     "max_in_flight", "tls",
             "filter",  "body",    "on_error", "circuit",      "rate_limit",    "disable_after",
             "notify",  "batch"},
            out.location)) {
        return;
    }
    read_item_name(r, node, scope, out.name);
    if (!Reader::value_of(node, "url").IsDefined()) {
        r.error(r.at(node), "url in " + scope + ": required");
    } else if (r.read(node, "url", scope, out.url)) {
        if (const auto problem = check_webhook_url(out.url); !problem.empty()) {
            r.field_error(Reader::value_of(node, "url"), "url", scope, problem);
        }
    }
    const auto errors_before_secrets = r.error_count();
    read_secrets(r, node, scope, out);
    if (out.secrets.empty() && r.error_count() == errors_before_secrets) {
        r.error(r.at(node), "secrets in " + scope +
                                ": at least one signing secret is required (secrets or "
                                "secrets_file)");
    }
    r.read(node, "event_types", scope, out.event_types);
    r.read(node, "aggregate_types", scope, out.aggregate_types);
    read_headers(r, node, scope, out);
    r.read(node, "timeout", scope, out.timeout, Duration(1));
    std::size_t ordering = 0;
    if (r.read_choice(node, "ordering", scope, {"per_aggregate", "none"}, ordering)) {
        out.ordering = ordering == 0 ? Ordering::per_aggregate : Ordering::none;
    }
    r.read(node, "max_in_flight", scope, out.max_in_flight, 1, 10000);
    if (const auto retry = Reader::value_of(node, "retry"); retry.IsDefined()) {
        read_retry(r, retry, "retry of " + scope, out.retry);
    }
    if (const auto tls = Reader::value_of(node, "tls"); tls.IsDefined()) {
        read_tls(r, tls, "tls of " + scope, out.tls);
    }
    read_expression(r, node, "filter", scope, out.filter);
    read_expression(r, node, "body", scope, out.body);
    if (const auto on_error = Reader::value_of(node, "on_error"); on_error.IsDefined()) {
        read_on_error(r, on_error, "on_error of " + scope, out.on_error, false);
    }
    if (const auto circuit = Reader::value_of(node, "circuit"); circuit.IsDefined()) {
        read_circuit(r, circuit, "circuit of " + scope, out.circuit);
    }
    r.read_rate(node, "rate_limit", scope, out.rate_limit.per_second);
    if (const auto batch = Reader::value_of(node, "batch"); batch.IsDefined()) {
        read_batch(r, batch, "batch of " + scope, out.batch);
    }
    r.read(node, "disable_after", scope, out.disable_after, Duration(0));
    if (r.read(node, "notify", scope, out.notify)) {
        out.notify_location = r.at(Reader::value_of(node, "notify"));
    }
}

void read_circuit(Reader& r, const YAML::Node& node, const std::string& scope, Circuit& out) {
    if (!r.expect_mapping(node, scope, {"failures", "cool_down", "max_cool_down"})) {
        return;
    }
    r.read(node, "failures", scope, out.failures, 1, 1000000);
    r.read(node, "cool_down", scope, out.cool_down, Duration(1));
    r.read(node, "max_cool_down", scope, out.max_cool_down, Duration(1));
    if (out.max_cool_down < out.cool_down) {
        r.error(r.at(node), scope + ": max_cool_down (" + format_duration(out.max_cool_down) +
                                ") must not be shorter than cool_down (" +
                                format_duration(out.cool_down) + ")");
    }
}

void read_batch(Reader& r, const YAML::Node& node, const std::string& scope, Batch& out) {
    if (!r.expect_mapping(node, scope, {"max_events", "max_wait"})) {
        return;
    }
    if (!Reader::value_of(node, "max_events").IsDefined()) {
        r.error(r.at(node), "max_events in " + scope + ": required (1..1000 messages per request)");
    }
    r.read(node, "max_events", scope, out.max_events, 1, 1000);
    if (r.read(node, "max_wait", scope, out.max_wait, Duration(0)) &&
        out.max_wait > max_batch_wait) {
        r.field_error(Reader::value_of(node, "max_wait"), "max_wait", scope,
                      "at most " + format_duration(max_batch_wait));
    }
}

void read_retry(Reader& r, const YAML::Node& node, const std::string& scope, Retry& out) {
    if (!r.expect_mapping(node, scope, {"schedule", "jitter"})) {
        return;
    }
    r.read_fraction(node, "jitter", scope, out.jitter);
    const auto schedule = Reader::value_of(node, "schedule");
    if (!schedule.IsDefined()) {
        return;
    }
    if (!schedule.IsSequence()) {
        r.field_error(schedule, "schedule", scope,
                      "expected a list of durations, got " + std::string(describe_kind(schedule)));
        return;
    }
    if (schedule.size() > max_schedule_length) {
        r.field_error(schedule, "schedule", scope,
                      "at most " + std::to_string(max_schedule_length) + " retries");
        return;
    }
    std::vector<Duration> delays;
    bool ok = true;
    std::size_t i = 0;
    for (const auto& item : schedule) {
        const std::string key = "schedule[" + std::to_string(i++) + "]";
        const auto text = r.scalar(item, key, scope);
        if (!text) {
            ok = false;
            continue;
        }
        const auto parsed = parse_duration(text->text);
        if (!parsed.value) {
            r.field_error(item, key, scope, parsed.error);
            ok = false;
            continue;
        }
        delays.push_back(*parsed.value);
    }
    if (ok) {
        out.schedule = std::move(delays);
    }
}

void read_tls(Reader& r, const YAML::Node& node, const std::string& scope, Tls& out) {
    if (!r.expect_mapping(node, scope, {"verify", "ca_file", "client_cert", "client_key"})) {
        return;
    }
    r.read(node, "verify", scope, out.verify);
    for (auto [key, field] :
         {std::pair{"ca_file", &out.ca_file}, std::pair{"client_cert", &out.client_cert},
          std::pair{"client_key", &out.client_key}}) {
        if (r.read(node, key, scope, *field)) {
            *field = r.resolve_path(*field);
        }
    }
    if (out.client_cert.empty() != out.client_key.empty()) {
        r.error(r.at(node), scope + ": client_cert and client_key must be given together");
    }
}

}  // namespace sluice::config
