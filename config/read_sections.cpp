// Conversion of the small sections: database, tailer, coordination, outbox, http and log.
#include <chrono>

#include "config/sections.hpp"
#include "config/validate.hpp"

namespace sluice::config {
namespace {

constexpr Duration positive{1};
constexpr Duration non_negative{0};

}  // namespace

void read_database(Reader& r, const YAML::Node& node, Database& out) {
    constexpr std::string_view scope = "database";
    if (!r.expect_mapping(node, scope,
                          {"url", "url_file", "events_table", "notify_channel", "connect_timeout",
                           "statement_timeout", "pooling", "listen_url", "pooled_poll_interval"})) {
        return;
    }
    const auto url = Reader::value_of(node, "url");
    const auto url_file = Reader::value_of(node, "url_file");
    if (url.IsDefined() && url_file.IsDefined()) {
        r.field_error(Reader::key_of(node, "url_file"), "url_file", scope,
                      "set either url or url_file, not both");
    } else if (url_file.IsDefined()) {
        if (const auto path = r.scalar(url_file, "url_file", scope)) {
            if (auto content = r.read_file(*path, "url_file", scope)) {
                out.url = std::move(*content);
            }
        }
    } else if (!url.IsDefined()) {
        r.error(node.IsMap() ? r.at(node) : Location{r.file()},
                "url in database: required (or url_file naming a file that holds it)");
    } else if (r.read(node, "url", scope, out.url) && out.url.empty()) {
        r.field_error(url, "url", scope, "must not be empty");
    }
    if (r.read(node, "events_table", scope, out.events_table)) {
        if (const auto problem = check_identifier(out.events_table, true); !problem.empty()) {
            r.field_error(Reader::value_of(node, "events_table"), "events_table", scope, problem);
        }
    }
    if (r.read(node, "notify_channel", scope, out.notify_channel)) {
        if (const auto problem = check_identifier(out.notify_channel, false); !problem.empty()) {
            r.field_error(Reader::value_of(node, "notify_channel"), "notify_channel", scope,
                          problem);
        }
    }
    r.read(node, "connect_timeout", scope, out.connect_timeout, positive);
    r.read(node, "statement_timeout", scope, out.statement_timeout, positive);
    std::size_t pooling = 0;
    if (r.read_choice(node, "pooling", scope, {"session", "transaction"}, pooling))
        out.pooling = pooling == 0 ? pg::Pooling::session : pg::Pooling::transaction;
    if (r.read(node, "listen_url", scope, out.listen_url) && out.listen_url.empty())
        r.field_error(Reader::value_of(node, "listen_url"), "listen_url", scope,
                      "must not be empty (leave it out to poll instead)");
    r.read(node, "pooled_poll_interval", scope, out.pooled_poll_interval, positive);
}

void read_tailer(Reader& r, const YAML::Node& node, Tailer& out) {
    constexpr std::string_view scope = "tailer";
    if (!r.expect_mapping(node, scope, {"batch_size", "poll_interval", "horizon_warning"})) {
        return;
    }
    r.read(node, "batch_size", scope, out.batch_size, 1, 100000);
    r.read(node, "poll_interval", scope, out.poll_interval, positive);
    r.read(node, "horizon_warning", scope, out.horizon_warning, positive);
}

void read_coordination(Reader& r, const YAML::Node& node, Coordination& out) {
    constexpr std::string_view scope = "coordination";
    if (!r.expect_mapping(node, scope, {"failover_after"})) {
        return;
    }
    r.read(node, "failover_after", scope, out.failover_after, positive);
    if (out.failover_after < std::chrono::seconds(1)) {
        r.field_error(Reader::value_of(node, "failover_after"), "failover_after", scope,
                      "must be at least 1s");
        out.failover_after = std::chrono::seconds(1);
    }
}

void read_outbox(Reader& r, const YAML::Node& node, Outbox& out) {
    constexpr std::string_view scope = "outbox";
    if (!r.expect_mapping(node, scope, {"retention", "claim_batch", "max_response_bytes"})) {
        return;
    }
    r.read(node, "retention", scope, out.retention, positive);
    r.read(node, "claim_batch", scope, out.claim_batch, 1, 10000);
    r.read_size(node, "max_response_bytes", scope, out.max_response_bytes, 0, 1024 * 1024);
}

void read_http(Reader& r, const YAML::Node& node, Http& out) {
    constexpr std::string_view scope = "http";
    if (!r.expect_mapping(node, scope, {"enabled", "listen", "max_request_bytes"})) {
        return;
    }
    r.read(node, "enabled", scope, out.enabled);
    if (r.read(node, "listen", scope, out.listen)) {
        if (const auto problem = check_listen(out.listen); !problem.empty()) {
            r.field_error(Reader::value_of(node, "listen"), "listen", scope, problem);
        }
    }
    r.read_size(node, "max_request_bytes", scope, out.max_request_bytes, 1024, 16 * 1024 * 1024);
}

void read_log(Reader& r, const YAML::Node& node, Log& out) {
    constexpr std::string_view scope = "log";
    if (!r.expect_mapping(node, scope, {"level"})) {
        return;
    }
    static constexpr std::string_view levels[] = {"debug", "info", "warn", "error"};
    std::size_t index = 0;
    if (r.read_choice(node, "level", scope, {"debug", "info", "warn", "error"}, index)) {
        out.level = std::string(levels[index]);
    }
}

}  // namespace sluice::config
