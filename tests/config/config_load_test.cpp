#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace sluice::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

const std::string test_dir = SLUICE_CONFIG_TEST_DIR;
const std::string shipping_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

Environment test_env() {
    return {{"DATABASE_URL", "postgresql://app@localhost/orders"},
            {"SHIPPING_WEBHOOK_SECRET", shipping_secret}};
}

std::string all_messages(const LoadResult& result) {
    std::string out;
    for (const auto& d : result.errors) {
        out.append(format(d)).append("\n");
    }
    return out;
}

Config load_ok(const std::string& text, const Environment& env = test_env()) {
    auto result = load_string(text, "test.yaml", env);
    EXPECT_TRUE(result.config.has_value()) << all_messages(result);
    return result.config.value_or(Config{});
}

TEST(LoadConfig, ReadsEveryFieldOfTheOrdersExample) {
    const auto path = test_dir + "/valid/orders.yaml";
    const auto result = load_file(path, test_env());
    ASSERT_TRUE(result.config.has_value()) << all_messages(result);
    const Config& c = *result.config;
    EXPECT_EQ(c.source_file, path);

    EXPECT_EQ(c.database.url, "postgresql://app@localhost/orders");
    EXPECT_EQ(c.database.events_table, "events");
    EXPECT_EQ(c.tailer.batch_size, 1000);
    EXPECT_EQ(c.tailer.poll_interval, 1s);
    EXPECT_EQ(c.coordination.failover_after, 10s);

    ASSERT_EQ(c.projections.size(), 1u);
    const Projection& p = c.projections[0];
    EXPECT_EQ(p.name, "order_summary");
    EXPECT_THAT(p.aggregate_types, ElementsAre("Order"));
    EXPECT_THAT(p.setup, HasSubstr("CREATE TABLE IF NOT EXISTS order_summary"));
    EXPECT_EQ(p.reset, "TRUNCATE order_summary");
    EXPECT_EQ(p.partitions, 1);
    EXPECT_EQ(p.location.line, 10);
    ASSERT_EQ(p.handlers.size(), 3u);
    EXPECT_EQ(p.handlers[0].event_type, "OrderCreated");
    EXPECT_EQ(p.handlers[0].sql,
              "INSERT INTO order_summary\n"
              "SELECT :aggregate_id, (:payload->>'customer_id')::uuid, 'CREATED', count(i),\n"
              "  coalesce(sum((i->>'quantity')::int * (i->>'price')::numeric), 0)\n"
              "FROM jsonb_array_elements(:payload->'order_items') AS i\n");
    EXPECT_EQ(p.handlers[0].location.file, path);
    EXPECT_EQ(p.handlers[0].location.line, 19);
    EXPECT_EQ(p.handlers[0].location.column, 9);
    EXPECT_EQ(p.handlers[1].event_type, "ItemAddedToOrder");
    EXPECT_EQ(p.handlers[1].location.line, 24);
    EXPECT_EQ(p.handlers[2].event_type, "OrderShipped");
    EXPECT_EQ(p.handlers[2].sql,
              "UPDATE order_summary SET status = 'SHIPPED' WHERE order_id = :aggregate_id");
    EXPECT_EQ(p.handlers[2].location.line, 27);
    EXPECT_EQ(p.handlers[2].location.column, 21);
    EXPECT_EQ(p.on_error.retries, 5);
    EXPECT_EQ(p.on_error.backoff, 1s);
    EXPECT_EQ(p.on_error.then, OnError::Then::stop);

    ASSERT_EQ(c.webhooks.size(), 1u);
    const Webhook& w = c.webhooks[0];
    EXPECT_EQ(w.name, "shipping");
    EXPECT_EQ(w.url, "https://shipping.internal/hooks/orders");
    EXPECT_THAT(w.secrets, ElementsAre(shipping_secret));
    EXPECT_THAT(w.event_types, ElementsAre("OrderShipped"));
    EXPECT_THAT(w.aggregate_types, ElementsAre("Order"));
    EXPECT_THAT(w.headers, ElementsAre(Pair("X-Tenant", "acme")));
    EXPECT_EQ(w.timeout, 15s);
    EXPECT_THAT(w.retry.schedule, ElementsAre(5s, 5min, 30min, 2h, 5h, 10h, 10h));
    EXPECT_DOUBLE_EQ(w.retry.jitter, 0.2);
    EXPECT_EQ(w.ordering, Ordering::per_aggregate);
    EXPECT_EQ(w.max_in_flight, 64);
    EXPECT_TRUE(w.tls.verify);
    EXPECT_EQ(w.tls.ca_file, "/etc/ssl/private-ca.pem");
    EXPECT_EQ(w.location.line, 30);

    EXPECT_EQ(c.outbox.retention, std::chrono::hours(24 * 7));
    EXPECT_EQ(c.http.listen, "127.0.0.1:9464");
    EXPECT_EQ(c.log.level, "info");
}

TEST(LoadConfig, FillsDefaultsForEverythingNotWritten) {
    const auto c = load_ok("database:\n  url: postgresql:///sluice\n");
    const Config defaults;
    EXPECT_EQ(c.database.url, "postgresql:///sluice");
    EXPECT_EQ(c.database.events_table, "events");
    EXPECT_EQ(c.database.notify_channel, "sluice_events");
    EXPECT_EQ(c.database.connect_timeout, 10s);
    EXPECT_EQ(c.database.statement_timeout, 30s);
    EXPECT_EQ(c.tailer.batch_size, 1000);
    EXPECT_EQ(c.tailer.poll_interval, 1s);
    EXPECT_EQ(c.tailer.horizon_warning, 30s);
    EXPECT_THAT(c.projections, IsEmpty());
    EXPECT_THAT(c.webhooks, IsEmpty());
    EXPECT_EQ(c.outbox.retention, defaults.outbox.retention);
    EXPECT_EQ(c.outbox.claim_batch, 256);
    EXPECT_EQ(c.outbox.max_response_bytes, 4096u);
    EXPECT_TRUE(c.http.enabled);
    EXPECT_EQ(c.http.listen, "127.0.0.1:9464");
    EXPECT_EQ(c.http.max_request_bytes, 64u * 1024);
    EXPECT_EQ(c.log.level, "info");
}

TEST(LoadConfig, ReadsTheSchemaAProjectionOwnsWithItsVerifyAndGrants) {
    const auto c = load_ok(R"(database: {url: x, events_table: store.events}
projections:
  - name: p
    schema: p_read
    verify: SELECT count(*) > 0 FROM t
    grants: [reporting, app_reader]
    handlers: {E: SELECT :id}
  - name: q
    handlers: {E: SELECT :id}
)");
    ASSERT_EQ(c.projections.size(), 2u);
    EXPECT_EQ(c.projections[0].schema, "p_read");
    EXPECT_EQ(c.projections[0].schema_location.line, 4);
    EXPECT_EQ(c.projections[0].schema_location.column, 13);
    EXPECT_EQ(c.projections[0].verify, "SELECT count(*) > 0 FROM t");
    EXPECT_THAT(c.projections[0].grants, ElementsAre("reporting", "app_reader"));
    EXPECT_EQ(c.projections[1].schema, "") << "no schema unless one is named";
    EXPECT_THAT(c.projections[1].grants, IsEmpty());
}

TEST(LoadConfig, DefaultsOnChangeToRebuildWithASchemaAndToContinueWithout) {
    const auto c = load_ok(R"(database: {url: x}
projections:
  - name: with_schema
    schema: a_read
    handlers: {E: SELECT :id}
  - name: without
    handlers: {E: SELECT :id}
  - name: partitioned
    schema: c_read
    partitions: 2
    handlers: {E: SELECT :id}
  - name: told_to_continue
    schema: d_read
    on_change: continue
    handlers: {E: SELECT :id}
  - name: told_to_rebuild
    schema: e_read
    on_change: rebuild
    handlers: {E: SELECT :id}
)");
    using OnChange = Projection::OnChange;
    ASSERT_EQ(c.projections.size(), 5u);
    EXPECT_EQ(c.projections[0].on_change, OnChange::rebuild) << "readers never see the rebuild";
    EXPECT_EQ(c.projections[1].on_change, OnChange::continue_) << "no schema to rebuild beside";
    EXPECT_EQ(c.projections[2].on_change, OnChange::rebuild) << "parts are rebuilt beside too";
    EXPECT_EQ(c.projections[3].on_change, OnChange::continue_);
    EXPECT_EQ(c.projections[4].on_change, OnChange::rebuild);
}

TEST(LoadConfig, RefusesOnChangeRebuildWithoutASchemaSayingWhy) {
    const auto bad = load_string(R"(database: {url: x}
projections:
  - name: p
    on_change: rebuild
    handlers: {E: SELECT 1}
  - name: q
    schema: q_read
    on_change: sometimes
    handlers: {E: SELECT 1}
)",
                                 "test.yaml", {});
    ASSERT_FALSE(bad.config.has_value());
    EXPECT_THAT(all_messages(bad),
                HasSubstr("test.yaml:4:16: on_change in projection 'p': rebuild needs schema:"));
    EXPECT_THAT(all_messages(bad), HasSubstr("it would empty the read model under its readers"));
    EXPECT_THAT(all_messages(bad),
                HasSubstr("test.yaml:8:16: on_change in projection 'q': expected one of rebuild, "
                          "continue, got 'sometimes'"));
}

TEST(LoadConfig, FillsDefaultsInsideProjectionsAndWebhooks) {
    const auto c = load_ok(R"(database: {url: x}
projections:
  - name: p
    handlers: {E: SELECT :id}
webhooks:
  - name: w
    url: http://127.0.0.1:8080/
    secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]
)");
    ASSERT_EQ(c.projections.size(), 1u);
    EXPECT_EQ(c.projections[0].partitions, 1);
    EXPECT_EQ(c.projections[0].on_error.retries, 5);
    EXPECT_EQ(c.projections[0].on_error.then, OnError::Then::stop);
    EXPECT_THAT(c.projections[0].aggregate_types, IsEmpty());
    ASSERT_EQ(c.webhooks.size(), 1u);
    const Webhook& w = c.webhooks[0];
    EXPECT_EQ(w.timeout, 15s);
    EXPECT_THAT(w.retry.schedule, ElementsAre(5s, 5min, 30min, 2h, 5h, 10h, 10h));
    EXPECT_DOUBLE_EQ(w.retry.jitter, 0.2);
    EXPECT_EQ(w.ordering, Ordering::per_aggregate);
    EXPECT_EQ(w.max_in_flight, 64);
    EXPECT_TRUE(w.tls.verify);
    EXPECT_THAT(w.event_types, IsEmpty());
    EXPECT_EQ(w.circuit.failures, 10);
    EXPECT_EQ(w.circuit.cool_down, 30s);
    EXPECT_EQ(w.circuit.max_cool_down, 10min);
    EXPECT_EQ(w.rate_limit.per_second, 0) << "no limit";
    EXPECT_EQ(w.disable_after, std::chrono::hours(24 * 5));
    EXPECT_EQ(w.notify, "");
}

TEST(LoadConfig, ReadsEndpointHealthSettingsAndANotifyTarget) {
    const auto c = load_ok(R"(database: {url: x}
webhooks:
  - name: orders
    url: http://127.0.0.1:8080/
    secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]
    circuit: {failures: 3, cool_down: 2s, max_cool_down: 1min}
    rate_limit: 600/min
    disable_after: 3d
    notify: ops
  - name: ops
    url: http://127.0.0.1:8081/
    secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]
    disable_after: 0s
)");
    ASSERT_EQ(c.webhooks.size(), 2u);
    const Webhook& w = c.webhooks[0];
    EXPECT_EQ(w.circuit.failures, 3);
    EXPECT_EQ(w.circuit.cool_down, 2s);
    EXPECT_EQ(w.circuit.max_cool_down, 1min);
    EXPECT_DOUBLE_EQ(w.rate_limit.per_second, 10.0);
    EXPECT_EQ(w.disable_after, std::chrono::hours(72));
    EXPECT_EQ(w.notify, "ops");
    EXPECT_EQ(w.notify_location.line, 9);
    EXPECT_EQ(w.notify_location.column, 13);
    EXPECT_EQ(c.webhooks[1].disable_after, 0s) << "never";
}

TEST(LoadConfig, ReadsNonDefaultValuesOfEverySmallSection) {
    const auto c = load_ok(R"(database:
  url: x
  events_table: app.events
  notify_channel: app_events
  connect_timeout: 250ms
  statement_timeout: 2min
tailer: {batch_size: 10, poll_interval: 100ms, horizon_warning: 1m}
outbox: {retention: 2h, claim_batch: 32, max_response_bytes: 1KiB}
http: {enabled: false, listen: "[::1]:0", max_request_bytes: 1MiB}
log: {level: debug}
projections:
  - name: p
    partitions: 1
    handlers: {E: SELECT 1}
    on_error: {retries: 0, backoff: 0s, then: park}
webhooks:
  - name: w
    url: HTTPS://example.com:8443/x?y=1
    secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_dGVzdA==]
    ordering: none
    retry: {schedule: [1s, 2s], jitter: 0.05}
    tls: {verify: false, client_cert: /c.pem, client_key: /k.pem}
)");
    EXPECT_EQ(c.database.events_table, "app.events");
    EXPECT_EQ(c.database.notify_channel, "app_events");
    EXPECT_EQ(c.database.connect_timeout, 250ms);
    EXPECT_EQ(c.database.statement_timeout, 2min);
    EXPECT_EQ(c.tailer.batch_size, 10);
    EXPECT_EQ(c.tailer.poll_interval, 100ms);
    EXPECT_EQ(c.tailer.horizon_warning, 1min);
    EXPECT_EQ(c.outbox.retention, 2h);
    EXPECT_EQ(c.outbox.claim_batch, 32);
    EXPECT_EQ(c.outbox.max_response_bytes, 1024u);
    EXPECT_FALSE(c.http.enabled);
    EXPECT_EQ(c.http.listen, "[::1]:0");
    EXPECT_EQ(c.http.max_request_bytes, 1024u * 1024);
    EXPECT_EQ(c.log.level, "debug");
    ASSERT_EQ(c.projections.size(), 1u);
    EXPECT_EQ(c.projections[0].partitions, 1);
    EXPECT_EQ(c.projections[0].on_error.retries, 0);
    EXPECT_EQ(c.projections[0].on_error.backoff, 0s);
    EXPECT_EQ(c.projections[0].on_error.then, OnError::Then::park);
    ASSERT_EQ(c.webhooks.size(), 1u);
    EXPECT_EQ(c.webhooks[0].secrets.size(), 2u);
    EXPECT_EQ(c.webhooks[0].ordering, Ordering::none);
    EXPECT_THAT(c.webhooks[0].retry.schedule, ElementsAre(1s, 2s));
    EXPECT_DOUBLE_EQ(c.webhooks[0].retry.jitter, 0.05);
    EXPECT_FALSE(c.webhooks[0].tls.verify);
    EXPECT_EQ(c.webhooks[0].tls.client_cert, "/c.pem");
}

TEST(LoadConfig, ReadsQuarantineAsAProjectionsOnErrorAndRefusesItForASnapshot) {
    const auto c = load_ok(R"(database: {url: x}
projections:
  - name: p
    handlers: {E: SELECT 1}
    on_error: {retries: 2, then: quarantine}
)");
    ASSERT_EQ(c.projections.size(), 1u);
    EXPECT_EQ(c.projections[0].on_error.then, OnError::Then::quarantine);
    EXPECT_EQ(c.projections[0].on_error.retries, 2);
    const auto bad = load_string(R"(database: {url: x}
snapshots:
  - aggregate_type: Order
    initial: "'{}'::jsonb"
    apply: {E: ":state"}
    on_error: {then: quarantine}
)",
                                 "test.yaml", {});
    ASSERT_FALSE(bad.config.has_value());
    EXPECT_THAT(
        all_messages(bad),
        HasSubstr("test.yaml:6:22: then in on_error of snapshots of 'Order': expected one of "
                  "stop, park, got 'quarantine'"));
}

TEST(LoadConfig, ReadsThePoolingKeysOfTheDatabaseSection) {
    const auto defaults = load_ok("database:\n  url: x\n");
    EXPECT_EQ(defaults.database.pooling, sluice::pg::Pooling::session);
    EXPECT_EQ(defaults.database.listen_url, "");
    EXPECT_EQ(defaults.database.pooled_poll_interval, 250ms);
    EXPECT_EQ(defaults.database.wake_up_poll(1s), 1s) << "LISTEN on url";
    const auto c = load_ok(R"(database:
  url: postgresql://pooler/x
  pooling: transaction
  pooled_poll_interval: 100ms
)");
    EXPECT_EQ(c.database.pooling, sluice::pg::Pooling::transaction);
    EXPECT_EQ(c.database.wake_up_poll(1s), 100ms) << "nowhere to LISTEN: poll";
    const auto direct = load_ok(R"(database:
  url: postgresql://pooler/x
  pooling: transaction
  listen_url: postgresql://db/x
)");
    EXPECT_EQ(direct.database.listen_url, "postgresql://db/x");
    EXPECT_EQ(direct.database.wake_up_poll(1s), 1s) << "LISTEN on listen_url";
    const auto bad = load_string("database:\n  url: x\n  pooling: statement\n  listen_url: \"\"\n",
                                 "test.yaml", {});
    ASSERT_FALSE(bad.config.has_value());
    const auto text = all_messages(bad);
    EXPECT_THAT(text, HasSubstr("test.yaml:3:"));
    EXPECT_THAT(text, HasSubstr("listen_url"));
    EXPECT_EQ(bad.errors.size(), 2u) << text;
}

TEST(LoadConfig, ExpandsEnvironmentVariablesAndDefaultsInAnyScalar) {
    const Environment env{{"DB", "postgresql:///prod"}, {"BATCH", "50"}, {"EMPTY", ""}};
    const auto c = load_ok(R"(database:
  url: ${DB}
  events_table: ${TABLE:-events_v2}
  notify_channel: "${EMPTY:-chan}"
tailer: {batch_size: "${BATCH}", poll_interval: "${POLL:-2s}"}
)",
                           env);
    EXPECT_EQ(c.database.url, "postgresql:///prod");
    EXPECT_EQ(c.database.events_table, "events_v2");
    EXPECT_EQ(c.database.notify_channel, "chan");
    EXPECT_EQ(c.tailer.batch_size, 50);
    EXPECT_EQ(c.tailer.poll_interval, 2s);
}

TEST(LoadConfig, ExpandsUnquotedVariablesInsideFlowCollections) {
    // As the README and the issue write it: '{' inside [ ] would otherwise be YAML syntax.
    const auto c = load_ok(
        "database: {url: ${DATABASE_URL}}\n"
        "webhooks:\n"
        "  - name: shipping\n"
        "    url: https://example.com/hook\n"
        "    secrets: [${SHIPPING_WEBHOOK_SECRET}, "
        "${OTHER:-whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}]\n"
        "    headers: {X-Tenant: ${TENANT:-acme}}\n");
    EXPECT_EQ(c.database.url, "postgresql://app@localhost/orders");
    ASSERT_EQ(c.webhooks.size(), 1u);
    EXPECT_THAT(c.webhooks[0].secrets, ElementsAre(shipping_secret, shipping_secret));
    EXPECT_THAT(c.webhooks[0].headers, ElementsAre(Pair("X-Tenant", "acme")));
}

TEST(LoadConfig, LocatesAMissingVariableInsideAFlowCollection) {
    const auto result = load_string(
        "database:\n  url: x\nwebhooks:\n  - name: w\n    url: https://e.com\n"
        "    secrets: [${NOT_SET_ANYWHERE}]\n",
        "test.yaml", {});
    ASSERT_EQ(result.errors.size(), 1u) << all_messages(result);
    EXPECT_EQ(result.errors[0].where.line, 6);
    EXPECT_EQ(result.errors[0].where.column, 15);
    EXPECT_THAT(result.errors[0].message, HasSubstr("NOT_SET_ANYWHERE"));
}

TEST(LoadConfig, LeavesSqlDollarQuotesAlone) {
    const auto path = test_dir + "/valid/tricky_sql.yaml";
    const auto result = load_file(path, {});
    ASSERT_TRUE(result.config.has_value()) << all_messages(result);
    const auto& c = *result.config;
    EXPECT_EQ(c.database.url, "postgresql:///fallback");
    ASSERT_EQ(c.projections.size(), 1u);
    EXPECT_THAT(c.projections[0].setup, HasSubstr("AS $$\n"));
    EXPECT_THAT(c.projections[0].setup, HasSubstr("$$ LANGUAGE sql;"));
    ASSERT_EQ(c.projections[0].handlers.size(), 3u);
    EXPECT_EQ(c.projections[0].handlers[0].location.line, 12);
    EXPECT_EQ(c.projections[0].handlers[0].location.column, 9);
    EXPECT_EQ(c.projections[0].handlers[1].sql, "SELECT :id::text, 'it''s :no'");
    EXPECT_EQ(c.projections[0].handlers[1].location.column, 18);
    EXPECT_EQ(c.projections[0].handlers[2].sql, "SELECT :version\t, E'\\' :no', :event_type");
}

TEST(LoadConfig, ReadsCredentialFilesRelativeToTheConfigFile) {
    const auto result = load_file(test_dir + "/valid/credentials.yaml", {});
    ASSERT_TRUE(result.config.has_value()) << all_messages(result);
    const auto& c = *result.config;
    EXPECT_EQ(c.database.url, "postgresql://sluice@localhost/orders");
    ASSERT_EQ(c.webhooks.size(), 1u);
    EXPECT_THAT(c.webhooks[0].secrets,
                ElementsAre("whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=", shipping_secret));
    EXPECT_EQ(c.webhooks[0].tls.ca_file, test_dir + "/valid/ca.pem");
}

TEST(LoadConfig, NeverEchoesSecretsOrUrlsInMessages) {
    const std::string secret_like = "whsec_SECRET*VALUE";
    const auto result = load_string(R"(database: {url: "postgresql://u:hunter2@db/x", bogus: 1}
webhooks:
  - name: w
    url: "ftp://user:tokenvalue@example.com/"
    secrets: [")" + secret_like + R"(", hunter3]
    headers: {Authorization: "Bearer abc\r\ndef", Host: sneaky}
)",
                                    "test.yaml", {});
    ASSERT_FALSE(result.config.has_value());
    const auto text = all_messages(result);
    EXPECT_THAT(text, Not(HasSubstr("SECRET*VALUE")));
    EXPECT_THAT(text, Not(HasSubstr("hunter")));
    EXPECT_THAT(text, Not(HasSubstr("tokenvalue")));
    EXPECT_THAT(text, Not(HasSubstr("Bearer")));
    EXPECT_EQ(result.errors.size(), 6u) << text;
}

TEST(LoadConfig, ReportsAMissingFileByName) {
    const auto result = load_file(test_dir + "/does-not-exist.yaml", {});
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_THAT(format(result.errors[0]), HasSubstr("does-not-exist.yaml: cannot read"));
}

TEST(FormatDiagnostic, WritesFileLineColumnAndOmitsUnknownParts) {
    EXPECT_EQ(format({{"sluice.yaml", 12, 7}, "unknown key 'handler'"}),
              "sluice.yaml:12:7: unknown key 'handler'");
    EXPECT_EQ(format({{"sluice.yaml", 12, 0}, "m"}), "sluice.yaml:12: m");
    EXPECT_EQ(format({{"sluice.yaml", 0, 0}, "m"}), "sluice.yaml: m");
    EXPECT_EQ(format({{}, "m"}), "m");
}

TEST(ProcessEnvironment, SeesVariablesOfThisProcess) {
    ::setenv("SLUICE_CONFIG_TEST_VARIABLE", "a=b", 1);
    const auto env = process_environment();
    const auto it = env.find("SLUICE_CONFIG_TEST_VARIABLE");
    ASSERT_NE(it, env.end());
    EXPECT_EQ(it->second, "a=b");
}

}  // namespace
}  // namespace sluice::config
