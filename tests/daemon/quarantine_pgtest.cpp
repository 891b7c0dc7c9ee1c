// Quarantine (`on_error.then: quarantine`) through `sluice run`: among 2,000 accounts whose
// deposits interleave, three have a poison deposit. Each poison is parked after its retries and
// every later deposit of its account is parked behind it, in order, whichever path meets it:
// the in-server catch-up (a backlog at start, events at the head), the batch path (the rest of
// the batch that isolated the poison), each part of a partitioned projection, and a daemon
// restarted after kill -9. Every other account's read model is exact meanwhile. Once the handler
// is fixed (a flag table it reads), `sluice parked retry` releases the accounts through the real
// CLI: the read model is then exact for every account, each deposit applied once and in version
// order (q_model.versions lists them as applied), and nothing stays parked.
#include <gmock/gmock.h>

#include <boost/json.hpp>
#include <csignal>
#include <map>
#include <regex>

#include "daemon_fixture.hpp"
#include "tests/store/sluice_process.hpp"

namespace sluice::testing {
namespace {

constexpr int accounts = 2000;
const std::vector<int> poisoned = {17, 1000, 1999};

// A deposit with "poison" fails until q_fixed has a row; with "poison": "hard" it always fails.
// versions: the deposits' versions in the order applied, so one applied twice or out of order
// shows.
std::string projection(int partitions) {
    return "projections:\n"
           "  - name: q\n"
           "    partitions: " +
           std::to_string(partitions) +
           "\n"
           "    aggregate_types: [Account]\n"
           "    setup: |\n"
           "      CREATE TABLE IF NOT EXISTS q_model (aggregate_id uuid PRIMARY KEY,\n"
           "        total bigint NOT NULL, versions int[] NOT NULL);\n"
           "      CREATE TABLE IF NOT EXISTS q_fixed (fixed boolean)\n"
           "    handlers:\n"
           "      Deposited: |\n"
           "        SELECT 1 / CASE WHEN :payload->>'poison' = 'hard' OR (:payload ? 'poison'\n"
           "          AND NOT EXISTS (SELECT FROM q_fixed)) THEN 0 ELSE 1 END;\n"
           "        INSERT INTO q_model VALUES (:aggregate_id, (:payload->>'amount')::int,\n"
           "          ARRAY[:version]) ON CONFLICT (aggregate_id) DO UPDATE SET\n"
           "          total = q_model.total + EXCLUDED.total,\n"
           "          versions = q_model.versions || EXCLUDED.versions\n"
           "    on_error: {retries: 1, backoff: 10ms, then: quarantine}\n";
}

// The aggregate id of account `a`.
const std::string account_id = "md5('account ' || a)::uuid";

std::string int_array(const std::vector<int>& values) {
    std::string out = "{";
    for (int v : values)
        out += (out.size() > 1 ? "," : "") + std::to_string(v);
    return out + "}";
}

// q_model as computed afresh from the events: every deposit but, when `held_from` is set, those
// of the poisoned accounts from that version on.
std::string expected_model(std::optional<int> held_from) {
    std::string held = "TRUE";
    if (held_from) {
        held = "NOT (version >= " + std::to_string(*held_from) + " AND aggregate_id IN (SELECT " +
               account_id + " FROM unnest('" + int_array(poisoned) + "'::int[]) a))";
    }
    return "SELECT aggregate_id, sum((payload->>'amount')::int), array_agg(version ORDER BY "
           "version) FROM events WHERE event_type = 'Deposited' AND " +
           held + " GROUP BY aggregate_id";
}

const std::string model = "SELECT aggregate_id, total, versions FROM q_model";

class Quarantine : public DaemonTest {
  protected:
    // One transaction: a deposit of `version` for every account in 1..accounts (in account
    // order, so accounts interleave across versions); those in `poison` carry "poison": true,
    // and those in `also_next` get their deposit of version + 1 right behind it.
    void deposit_round(int version, const std::vector<int>& poison = {},
                       const std::vector<int>& also_next = {}, const std::vector<int>& skip = {}) {
        conn().exec(
            "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
            "SELECT " +
                account_id +
                ", 'Account', v, 'Deposited', jsonb_build_object('amount', a % 97 + v) || "
                "CASE WHEN v = $1 AND a = ANY ($2::int[]) THEN '{\"poison\": true}'::jsonb "
                "ELSE '{}'::jsonb END "
                "FROM generate_series(1, $4) a CROSS JOIN LATERAL (VALUES ($1), ($1 + 1)) d(v) "
                "WHERE (v = $1 AND NOT a = ANY ($5::int[])) OR (v = $1 + 1 AND a = ANY "
                "($3::int[])) "
                "ORDER BY a, v",
            pg::Params(version, int_array(poison), int_array(also_next), accounts,
                       int_array(skip)));
    }

    // One deposit of account `a` at `version`, with `poison` ("", "true" or "\"hard\"").
    Position deposit(int a, int version, const std::string& poison = "") {
        const std::string payload = "{\"amount\": " + std::to_string(version) +
                                    (poison.empty() ? "" : ", \"poison\": " + poison) + "}";
        auto r = conn().exec(
            "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
            "SELECT " +
                account_id +
                ", 'Account', $2, 'Deposited', $3::jsonb FROM (SELECT $1::int AS a) s "
                "RETURNING transaction_id::text, id",
            pg::Params(a, version, payload));
        return {std::stoull(std::string(r.text(0, 0))), r.int64(0, 1)};
    }

    static ProcessResult parked(std::vector<std::string> args) {
        args.insert(args.begin(), "parked");
        return run_sluice(args);
    }

    // `sluice verify q`: exit 0 when every event up to the checkpoint was applied or is parked
    // (those parked behind a quarantined one included, each counted once).
    static void expect_verified(const std::string& config, const std::string& when) {
        auto r = run_sluice({"verify", "q", "--config", config});
        EXPECT_EQ(r.exit_code, 0) << when << "\n" << r.out << r.err;
    }

    // The parked events of q's account `a`, from `sluice parked list --json`, in the order
    // listed (commit order).
    std::vector<boost::json::object> parked_of_account(int a) {
        auto r = parked({"list", "q", "--json", "--database-url", url()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        const std::string id(
            conn()
                .exec("SELECT " + account_id + "::text FROM (SELECT $1::int AS a) s", pg::Params(a))
                .text(0, 0));
        std::vector<boost::json::object> out;
        const boost::json::value all = boost::json::parse(r.out);
        for (const auto& v : all.as_array()) {
            if (v.as_object().at("aggregate_id") == boost::json::value(id))
                out.push_back(v.as_object());
        }
        return out;
    }

    // Every deposit of each poisoned account from `from_version` on is parked: the first (the
    // poison) with its error, the others behind it, in version order, for q or its part.
    void expect_parked_behind_the_poison(int from_version) {
        for (int a : poisoned) {
            auto rows =
                conn().exec("SELECT id FROM events WHERE aggregate_id = (SELECT " + account_id +
                                " FROM (SELECT $1::int AS a) s) AND version >= $2 ORDER BY version",
                            pg::Params(a, from_version));
            const auto listed = parked_of_account(a);
            ASSERT_EQ(static_cast<int>(listed.size()), rows.rows()) << "account " << a;
            const std::int64_t first = rows.int64(0, 0);
            for (int i = 0; i < rows.rows(); ++i) {
                const auto& p = listed[static_cast<std::size_t>(i)];
                EXPECT_EQ(p.at("event_id").as_int64(), rows.int64(i, 0)) << "account " << a;
                EXPECT_EQ(p.at("quarantine"), boost::json::value(true));
                if (i == 0) {
                    EXPECT_TRUE(p.at("behind").is_null()) << boost::json::serialize(p);
                    EXPECT_EQ(p.at("sqlstate"), boost::json::value("22012"));
                } else {
                    EXPECT_EQ(p.at("behind"), boost::json::value(first))
                        << boost::json::serialize(p);
                }
            }
        }
    }

    [[nodiscard]] std::int64_t parked_count() {
        return scalar("SELECT count(*) FROM sluice.parked_events");
    }

    // Waits until /status reports `n` quarantined aggregates over q (and its parts).
    [[nodiscard]] bool wait_quarantined(DaemonProcess& daemon, std::int64_t n) {
        return wait_status(
            daemon,
            [n](const StatusView& st) {
                std::int64_t sum = 0;
                for (const auto& s : st.subscribers)
                    sum += s.quarantined;
                return sum == n;
            },
            20s);
    }
};

class QuarantineBacklog : public Quarantine, public ::testing::WithParamInterface<int> {};

// A backlog present at start goes through the in-server catch-up; the batch that isolates a
// poison parks the deposits behind it that it holds; events arriving at the head go through
// the catch-up again.
TEST_P(QuarantineBacklog, HoldsBackThePoisonedAccountsOnlyAndRetryReleasesThemInOrder) {
    const int partitions = GetParam();
    migrate();
    deposit_round(1);
    deposit_round(2, poisoned, poisoned);  // the poisoned accounts' version 3 right behind
    deposit_round(3, {}, {}, poisoned);
    deposit_round(4);
    const std::string config = write_file("sluice.yaml", base_config() + projection(partitions));
    auto daemon = DaemonProcess::start(config);
    std::vector<std::string> names = {"q"};
    if (partitions > 1)
        names = {"q[1/2]", "q[2/2]"};
    ASSERT_TRUE(wait_running(daemon, names));
    Position end = head();
    for (const auto& name : names)
        ASSERT_TRUE(wait_checkpoint(name, end, 60s)) << diagnose(daemon);

    EXPECT_EQ(differences(model, expected_model(2)), 0) << "every other account is exact";
    EXPECT_EQ(parked_count(), 3 * 3);
    expect_parked_behind_the_poison(2);
    EXPECT_TRUE(wait_quarantined(daemon, 3)) << diagnose(daemon);
    // The gauge follows /status within the second the daemon exports its metrics in.
    std::string metrics;
    auto gauge_sum = [&] {
        metrics = daemon.http_get("/metrics").body;
        double sum = 0;
        for (const auto& name : names) {
            sum += metric_sample(metrics, "sluice_subscriber_quarantined_aggregates",
                                 {"name=\"" + name + "\""})
                       .value_or(-1);
        }
        return sum;
    };
    EXPECT_TRUE(wait_until([&] { return gauge_sum() == 3; }, 10s)) << metrics;

    // At the head: the next deposit of every account, the poisoned ones' parked behind.
    deposit_round(5);
    end = head();
    for (const auto& name : names)
        ASSERT_TRUE(wait_checkpoint(name, end, 30s)) << diagnose(daemon);
    EXPECT_EQ(differences(model, expected_model(2)), 0);
    EXPECT_EQ(parked_count(), 3 * 4);
    expect_parked_behind_the_poison(2);
    expect_verified(config, "quarantined, at the head");

    // Fixed: the retry releases every account, beside the running daemon.
    conn().exec("INSERT INTO q_fixed VALUES (true)");
    auto r = parked({"retry", "q", "--all", "--config", config});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, ::testing::HasSubstr("retried 12 parked events of q\n"));
    EXPECT_EQ(parked_count(), 0);
    auto list = parked({"list", "q", "--database-url", url()});
    EXPECT_EQ(list.out, "no parked events of q\n");
    EXPECT_EQ(differences(model, expected_model(std::nullopt)), 0);
    EXPECT_TRUE(wait_quarantined(daemon, 0)) << diagnose(daemon);

    // Released: the next deposits are applied, not parked.
    deposit_round(6);
    end = head();
    for (const auto& name : names)
        ASSERT_TRUE(wait_checkpoint(name, end, 30s)) << diagnose(daemon);
    EXPECT_EQ(parked_count(), 0);
    EXPECT_EQ(differences(model, expected_model(std::nullopt)), 0);
    expect_verified(config, "released");
}

INSTANTIATE_TEST_SUITE_P(Parts, QuarantineBacklog, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& info) {
                             return info.param == 1 ? std::string("Unpartitioned")
                                                    : std::string("TwoParts");
                         });

// Live events: the poison's batch is isolated on the batch path, which parks the deposits
// behind it in the same batch; after kill -9 and more deposits, the restarted daemon (a
// backlog: catch-up) keeps them parked behind, applying nothing twice.
TEST_F(Quarantine, SurvivesKill9AndKeepsParkingBehindAfterTheRestart) {
    migrate();
    const std::string config = write_file("sluice.yaml", base_config() + projection(1));
    std::optional<DaemonProcess> daemon = DaemonProcess::start(config);
    ASSERT_TRUE(wait_running(*daemon, {"q"}));
    deposit_round(1);
    deposit_round(2, poisoned, poisoned);
    ASSERT_TRUE(wait_checkpoint("q", head(), 60s)) << diagnose(*daemon);
    EXPECT_EQ(parked_count(), 3 * 2);
    EXPECT_EQ(differences(model, expected_model(2)), 0);

    daemon->kill(SIGKILL);
    daemon.reset();
    // With no daemon to ask, `sluice status` counts them from the database.
    auto st = run_sluice({"status", "--config", config, "--json"});
    ASSERT_EQ(st.exit_code, 0) << st.err;
    const boost::json::value parsed = boost::json::parse(st.out);
    const auto& q = parsed.at("subscribers").as_array().at(0).as_object();
    EXPECT_EQ(q.at("name"), boost::json::value("q")) << st.out;
    EXPECT_EQ(q.at("state"), boost::json::value("no daemon")) << st.out;
    EXPECT_EQ(q.at("quarantined"), boost::json::value(3)) << st.out;
    deposit_round(3, {}, {}, poisoned);
    deposit_round(4);
    daemon.emplace(DaemonProcess::start(config));
    ASSERT_TRUE(wait_running(*daemon, {"q"}));
    ASSERT_TRUE(wait_checkpoint("q", head(), 60s)) << diagnose(*daemon);
    EXPECT_EQ(differences(model, expected_model(2)), 0) << "nothing applied twice, none lost";
    EXPECT_EQ(parked_count(), 3 * 3);
    expect_parked_behind_the_poison(2);
    EXPECT_TRUE(wait_quarantined(*daemon, 3)) << diagnose(*daemon);

    conn().exec("INSERT INTO q_fixed VALUES (true)");
    auto r = parked({"retry", "q", "--all", "--config", config});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(parked_count(), 0);
    EXPECT_EQ(differences(model, expected_model(std::nullopt)), 0);
}

// Only the first event releases an aggregate; one that fails again stays first; dropping the
// first leaves the aggregate quarantined behind the next.
TEST_F(Quarantine, RetryReleasesFromTheFirstAndStopsWhereAnEventFailsAgain) {
    migrate();
    const std::string config = write_file("sluice.yaml", base_config() + projection(1));
    auto daemon = DaemonProcess::start(config);
    ASSERT_TRUE(wait_running(daemon, {"q"}));
    deposit(5, 1);
    const Position soft = deposit(5, 2, "true");
    const Position hard = deposit(5, 3, "\"hard\"");
    const Position after = deposit(5, 4);
    deposit(6, 1);
    ASSERT_TRUE(wait_checkpoint("q", head(), 30s)) << diagnose(daemon);
    ASSERT_EQ(parked_count(), 3) << diagnose(daemon);
    const std::string soft_id = std::to_string(soft.id);
    const std::string hard_id = std::to_string(hard.id);
    const std::string after_id = std::to_string(after.id);

    // The table says which event each row waits behind.
    auto table = parked({"list", "q", "--database-url", url()});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    const auto lines = lines_of(table.out);
    ASSERT_EQ(lines.size(), 4U) << table.out;
    // SQLSTATE, BEHIND, ERROR: the last three of the columns, which are two or more spaces apart.
    auto last_cells = [](const std::string& line) {
        static const std::regex gap(" {2,}");
        std::vector<std::string> cells{
            std::sregex_token_iterator(line.begin(), line.end(), gap, -1),
            std::sregex_token_iterator()};
        return std::vector<std::string>(cells.end() - 3, cells.end());
    };
    using Cells = std::vector<std::string>;
    EXPECT_EQ(last_cells(lines[0]), (Cells{"SQLSTATE", "BEHIND", "ERROR"}));
    EXPECT_EQ(last_cells(lines[1]), (Cells{"22012", "first", "division by zero"}));
    EXPECT_EQ(last_cells(lines[2]), (Cells{"-", soft_id, "quarantined behind event " + soft_id}));
    EXPECT_EQ(last_cells(lines[3]), (Cells{"-", soft_id, "quarantined behind event " + soft_id}));

    auto follower = parked({"retry", "q", "--event", hard_id, "--config", config});
    EXPECT_EQ(follower.exit_code, 2);
    EXPECT_EQ(follower.err, "sluice parked: event " + hard_id +
                                " of q is quarantined behind event " + soft_id +
                                " of its aggregate; retry " + soft_id +
                                ", which releases the aggregate's events in order\n");

    conn().exec("INSERT INTO q_fixed VALUES (true)");
    auto r = parked({"retry", "q", "--event", soft_id, "--config", config});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.out, "applied event " + soft_id + " of q\n");
    EXPECT_THAT(r.err, ::testing::HasSubstr("event " + hard_id + " of q failed: division by zero"));
    auto listed = parked_of_account(5);
    ASSERT_EQ(listed.size(), 2U);
    EXPECT_EQ(listed[0].at("event_id").as_int64(), hard.id);
    EXPECT_TRUE(listed[0].at("behind").is_null()) << "the one that failed again is first now";
    EXPECT_EQ(listed[1].at("behind"), boost::json::value(hard.id));

    auto dropped = parked({"drop", "q", "--event", hard_id, "--database-url", url()});
    EXPECT_EQ(dropped.exit_code, 0) << dropped.err;
    listed = parked_of_account(5);
    ASSERT_EQ(listed.size(), 1U);
    EXPECT_EQ(listed[0].at("event_id").as_int64(), after.id);
    EXPECT_TRUE(listed[0].at("behind").is_null());
    const Position more = deposit(5, 5);
    ASSERT_TRUE(wait_checkpoint("q", more, 30s)) << diagnose(daemon);
    EXPECT_EQ(parked_count(), 2) << "still quarantined behind " << after_id;

    auto released = parked({"retry", "q", "--event", after_id, "--config", config});
    EXPECT_EQ(released.exit_code, 0) << released.err;
    EXPECT_EQ(released.out, "applied event " + after_id + " of q\napplied event " +
                                std::to_string(more.id) + " of q\nretried 2 parked events of q\n");
    EXPECT_EQ(parked_count(), 0);
    const Position last = deposit(5, 6);
    ASSERT_TRUE(wait_checkpoint("q", last, 30s)) << diagnose(daemon);
    EXPECT_EQ(parked_count(), 0);
    EXPECT_EQ(scalar("SELECT count(*) FROM q_model WHERE versions = '{1,2,4,5,6}' AND "
                     "aggregate_id = md5('account 5')::uuid"),
              1);
}

}  // namespace
}  // namespace sluice::testing
