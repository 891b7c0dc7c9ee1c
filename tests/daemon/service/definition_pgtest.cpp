// Projections whose read model was built by an older definition, through a real `sluice run`:
// the first start records each definition; a reload with a changed handler shows the change in
// /status, /metrics and the log (on_change: continue) or asks for one blue/green rebuild
// (on_change: rebuild, the default with schema:), once per change; `sluice rebuild` clears it.
#include <boost/json.hpp>
#include <csignal>

#include "daemon_fixture.hpp"

namespace sluice::testing {
namespace {

namespace json = boost::json;

std::string projection_p(const std::string& insert) {
    return R"(
  - name: p
    setup: CREATE TABLE IF NOT EXISTS p_applied (event_id bigint PRIMARY KEY, v int NOT NULL)
    reset: TRUNCATE p_applied
    handlers:
      Tick: )" +
           insert + "\n";
}

std::string projection_s(int version, const std::string& on_change = "") {
    return R"(
  - name: s
    schema: s_read
)" + (on_change.empty() ? "" : "    on_change: " + on_change + "\n") +
           R"(    setup: CREATE TABLE IF NOT EXISTS s_applied (event_id bigint PRIMARY KEY, v int NOT NULL)
    handlers:
      Tick: INSERT INTO s_applied VALUES (:id, )" +
           std::to_string(version) + ")\n";
}

// Without schema: on_change is continue; its warnings mark that a reload's check has run.
std::string projection_m(int version) {
    return R"(
  - name: m
    setup: CREATE TABLE IF NOT EXISTS m_applied (event_id bigint PRIMARY KEY, v int NOT NULL)
    handlers:
      Tick: INSERT INTO m_applied VALUES (:id, )" +
           std::to_string(version) + ")\n";
}

class Definitions : public DaemonTest {
  protected:
    void SetUp() override {
        DaemonTest::SetUp();
        migrate();
    }

    // /status's "definitions" entry of `projection` ("definition", "changed", "on_change").
    std::optional<json::object> definition(DaemonProcess& daemon, const std::string& projection) {
        const auto status = json::parse(daemon.http_get("/status").body);
        for (const auto& d : status.as_object().at("definitions").as_array()) {
            if (d.as_object().at("projection").as_string() == projection)
                return d.as_object();
        }
        return std::nullopt;
    }

    bool wait_definition(DaemonProcess& daemon, const std::string& projection,
                         const std::string& state) {
        return wait_until(
            [&] {
                auto d = definition(daemon, projection);
                return d && d->at("definition").as_string() == state;
            },
            20s);
    }

    std::optional<double> changed_metric(DaemonProcess& daemon, const std::string& projection) {
        return metric_sample(daemon.http_get("/metrics").body,
                             "sluice_projection_definition_changed",
                             {"projection=\"" + projection + "\""});
    }

    void reload(DaemonProcess& daemon, const std::string& config) {
        const std::string done = "msg=\"configuration reloaded\"";
        const std::size_t before = daemon.count_in_log(done);
        write_file("sluice.yaml", config);
        daemon.kill(SIGHUP);
        ASSERT_TRUE(daemon.wait_for_log(done, 20s, before + 1)) << diagnose(daemon);
    }
};

TEST_F(Definitions, ReportsAChangedHandlerUntilARebuildRecordsTheNewDefinition) {
    const std::string v1 = "INSERT INTO p_applied VALUES (:id, 1)";
    const std::string v2 = "INSERT INTO p_applied VALUES (:id, 2)";
    const std::string head = base_config() + "projections:";
    const std::string path = write_file("sluice.yaml", head + projection_p(v1));
    append_ticks(20);
    auto daemon = DaemonProcess::start(path);
    ASSERT_TRUE(wait_running(daemon, {"p"}));
    ASSERT_TRUE(wait_definition(daemon, "p", "current")) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.projection_definitions WHERE projection = 'p'"),
              1)
        << "the first start records the definition";
    ASSERT_TRUE(wait_until([&] { return changed_metric(daemon, "p") == 0.0; }, 10s))
        << daemon.http_get("/metrics").body;

    reload(daemon, head + projection_p(v2));
    ASSERT_TRUE(wait_definition(daemon, "p", "changed")) << diagnose(daemon);
    auto d = definition(daemon, "p");
    EXPECT_EQ(json::serialize(d->at("changed")), R"(["handlers"])");
    EXPECT_EQ(d->at("on_change").as_string(), "continue") << "the default without schema:";
    auto sub = json::parse(daemon.http_get("/status").body)
                   .as_object()
                   .at("subscribers")
                   .as_array()
                   .at(0)
                   .as_object();
    EXPECT_EQ(sub.at("definition").as_string(), "changed");
    ASSERT_TRUE(wait_until([&] { return changed_metric(daemon, "p") == 1.0; }, 10s))
        << daemon.http_get("/metrics").body;
    const std::string warning =
        "projection=p changed=handlers msg=\"projection's read model was "
        "built by an older definition";
    ASSERT_TRUE(daemon.wait_for_log(warning, 10s)) << diagnose(daemon);
    EXPECT_EQ(daemon.count_in_log(warning), 1u) << "once per reload, not per batch";
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.rebuilds"), 0)
        << "on_change: continue asks for no rebuild";

    auto rebuild = DaemonProcess::spawn({"rebuild", "p", "-c", path, "--yes", "--in-place"});
    auto exit = rebuild.wait_exit(60s);
    ASSERT_TRUE(exit && exit->is_exit(0)) << rebuild.output_tail();
    EXPECT_EQ(scalar("SELECT count(*) FROM p_applied WHERE v = 1"), 0) << "replayed by v2";
    ASSERT_TRUE(wait_definition(daemon, "p", "current")) << diagnose(daemon);
    ASSERT_TRUE(wait_until([&] { return changed_metric(daemon, "p") == 0.0; }, 10s))
        << daemon.http_get("/metrics").body;
    EXPECT_EQ(daemon.count_in_log(warning), 1u);
}

TEST_F(Definitions, AsksForOneBlueGreenRebuildPerChangeOfAProjectionWithASchema) {
    const std::string head = base_config() + "projections:";
    const std::string path = write_file("sluice.yaml", head + projection_s(1) + projection_m(1));
    auto daemon = DaemonProcess::start(path);
    ASSERT_TRUE(wait_running(daemon, {"s", "m"}));
    ASSERT_TRUE(wait_definition(daemon, "s", "current")) << diagnose(daemon);
    EXPECT_EQ(definition(daemon, "s")->at("on_change").as_string(), "rebuild")
        << "the default with schema:";
    const std::string marker = "projection=m changed=handlers";
    const std::string asked = "msg=\"projection's definition changed; asked for a blue/green";
    const std::string already = "a rebuild of it is already asked for";

    // m changes, s does not: no rebuild asked for.
    reload(daemon, head + projection_s(1) + projection_m(2));
    ASSERT_TRUE(daemon.wait_for_log(marker, 20s, 1)) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.rebuilds"), 0);

    // s changes: one request.
    reload(daemon, head + projection_s(2) + projection_m(2));
    ASSERT_TRUE(daemon.wait_for_log(marker, 20s, 2)) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.rebuilds WHERE projection = 's' AND phase = "
                     "'requested' AND reason = 'definition changed' AND command = 'rebuild'"),
              1);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.rebuilds"), 1);
    EXPECT_EQ(daemon.count_in_log(asked), 1u) << diagnose(daemon);
    ASSERT_TRUE(wait_definition(daemon, "s", "changed")) << diagnose(daemon);

    // The same config again: nothing more is asked.
    reload(daemon, head + projection_s(2) + projection_m(2));
    ASSERT_TRUE(daemon.wait_for_log(marker, 20s, 3)) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.rebuilds"), 1);
    EXPECT_EQ(daemon.count_in_log(asked), 1u);
    EXPECT_EQ(daemon.count_in_log(already), 0u);
}

TEST_F(Definitions, ABlueGreenRebuildAndARollbackMoveTheDefinitionsWithTheGenerations) {
    const std::string head = base_config() + "projections:";
    const std::string path = write_file("sluice.yaml", head + projection_s(1, "continue"));
    append_ticks(10);
    auto daemon = DaemonProcess::start(path);
    ASSERT_TRUE(wait_running(daemon, {"s"}));
    ASSERT_TRUE(wait_definition(daemon, "s", "current")) << diagnose(daemon);
    const auto fingerprint = [&](const std::string& name) {
        return conn()
            .exec(
                "SELECT coalesce((SELECT fingerprint FROM sluice.projection_definitions "
                "WHERE projection = $1), '')",
                pg::Params(name))
            .text(0, 0);
    };
    const std::string v1 = std::string(fingerprint("s"));

    reload(daemon, head + projection_s(2, "continue"));
    ASSERT_TRUE(wait_definition(daemon, "s", "changed")) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.rebuilds"), 0) << "on_change: continue";

    auto rebuild = DaemonProcess::spawn({"rebuild", "s", "-c", path, "--yes"});
    auto rebuilt = rebuild.wait_exit(60s);
    ASSERT_TRUE(rebuilt && rebuilt->is_exit(0)) << rebuild.output_tail();
    ASSERT_TRUE(wait_definition(daemon, "s", "current")) << diagnose(daemon);
    const std::string v2 = std::string(fingerprint("s"));
    EXPECT_NE(v2, v1);
    EXPECT_EQ(std::string(fingerprint("s@previous")), v1) << "the outgoing generation's";
    EXPECT_EQ(std::string(fingerprint("s@next")), "") << "moved to s by the swap";

    auto rollback = DaemonProcess::spawn({"rollback", "s", "-c", path, "--yes"});
    auto rolled = rollback.wait_exit(60s);
    ASSERT_TRUE(rolled && rolled->is_exit(0)) << rollback.output_tail();
    EXPECT_EQ(std::string(fingerprint("s")), v1);
    EXPECT_EQ(std::string(fingerprint("s@previous")), v2);
    ASSERT_TRUE(wait_definition(daemon, "s", "changed"))
        << "the generation rolled back to was built by v1\n"
        << diagnose(daemon);
}

}  // namespace
}  // namespace sluice::testing
