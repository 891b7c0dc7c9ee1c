// Aggregate snapshots: sluice.aggregate_state must equal a fold from the first event for every
// aggregate, whether snapshots exist or not, at any point in time, and whatever definition the
// stored snapshots were taken with; the daemon keeps them exactly once across kill -9.
// The reference folds are written independently of the fold functions: as plain SQL aggregates
// over each aggregate's events (sums, counts, jsonb_agg), not as a loop over them.
#include <csignal>
#include <random>
#include <thread>

#include "config/config.hpp"
#include "daemon_fixture.hpp"
#include "infra/pg/literal.hpp"
#include "projections/fold_function.hpp"

namespace sluice::testing {
namespace {

// Three aggregate types; each also has an event type its fold does not apply (Noted).
const std::string folds = R"(
snapshots:
  - aggregate_type: Account
    initial: jsonb_build_object('balance', 0, 'ops', 0)
    apply:
      Deposited: |
        jsonb_build_object('balance', (:state->>'balance')::int + (:payload->>'n')::int,
                           'ops', (:state->>'ops')::int + 1)
      Withdrawn: |
        jsonb_build_object('balance', (:state->>'balance')::int - (:payload->>'n')::int,
                           'ops', (:state->>'ops')::int + 1)
    every: 10
    keep: KEEP
  - aggregate_type: Order
    initial: jsonb_build_object('items', '[]'::jsonb)
    apply:
      ItemAdded: jsonb_build_object('items', (:state->'items') || jsonb_build_array(:payload->'n'))
    every: 10
    keep: KEEP
  - aggregate_type: Seat
    initial: "'{}'::jsonb"
    apply:
      Reserved: |
        jsonb_build_object('last', :event_type, 'at', :version,
                           'sum', coalesce((:state->>'sum')::int, 0) + (:payload->>'n')::int)
      Cancelled: |
        jsonb_build_object('last', :event_type, 'at', :version,
                           'sum', coalesce((:state->>'sum')::int, 0) + (:payload->>'n')::int)
    every: 10
    keep: KEEP
)";

// The same states as plain aggregates over the events up to version p_up_to (all when NULL).
// `ops_factor` lets a test compare against a changed Account fold.
const std::string reference_sql = R"SQL(
CREATE FUNCTION ref_state(p_type text, p_id uuid, p_up_to bigint, ops_factor int DEFAULT 1,
                          OUT version bigint, OUT state jsonb) LANGUAGE sql STABLE AS $$
  WITH ev AS (SELECT e.version, e.event_type, (e.payload->>'n')::int AS n FROM events e
               WHERE e.aggregate_id = p_id AND (p_up_to IS NULL OR e.version <= p_up_to))
  SELECT max(ev.version)::bigint,
    CASE p_type
      WHEN 'Account' THEN jsonb_build_object(
        'balance', coalesce(sum(CASE ev.event_type WHEN 'Deposited' THEN ev.n
                                                   WHEN 'Withdrawn' THEN -ev.n END), 0),
        'ops', ops_factor * count(*) FILTER (WHERE ev.event_type IN ('Deposited', 'Withdrawn')))
      WHEN 'Order' THEN jsonb_build_object('items', coalesce(
        jsonb_agg(to_jsonb(ev.n) ORDER BY ev.version) FILTER (WHERE ev.event_type = 'ItemAdded'),
        '[]'::jsonb))
      ELSE CASE WHEN count(*) FILTER (WHERE ev.event_type IN ('Reserved', 'Cancelled')) = 0
                THEN '{}'::jsonb
                ELSE jsonb_build_object(
                  'last', (array_agg(ev.event_type ORDER BY ev.version DESC)
                             FILTER (WHERE ev.event_type IN ('Reserved', 'Cancelled')))[1],
                  'at', max(ev.version) FILTER (WHERE ev.event_type IN ('Reserved', 'Cancelled')),
                  'sum', sum(ev.n) FILTER (WHERE ev.event_type IN ('Reserved', 'Cancelled')))
           END
    END
  FROM ev
$$;
)SQL";

// Per type, 2 aggregates of 5000 events and 1170 of 1..39 (fixed lengths, random event types
// and payloads): 100,260 events. Version v is written at 2024-01-01 + v minutes + up to 50 s,
// so "one second after version v" lies between versions v and v + 1.
const std::string generate_sql = R"SQL(
CREATE TABLE aggs AS
  SELECT gen_random_uuid() AS id, t.type, t.kinds,
         CASE WHEN g <= 2 THEN 5000 ELSE 1 + (g * 7919) % 39 END AS len
    FROM (VALUES ('Account', ARRAY['Deposited', 'Withdrawn', 'Noted']),
                 ('Order', ARRAY['ItemAdded', 'ItemAdded', 'Noted']),
                 ('Seat', ARRAY['Reserved', 'Cancelled', 'Noted'])) AS t(type, kinds),
         generate_series(1, 1172) g;
CREATE TABLE stamps AS
  SELECT a.id, v AS version,
         '2024-01-01'::timestamptz + v * interval '1 minute' + random() * interval '50 s' AS at
    FROM aggs a, generate_series(1, a.len) v;
INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload, "timestamp")
  SELECT a.id, a.type, s.version, a.kinds[1 + floor(random() * 3)::int],
         jsonb_build_object('n', floor(random() * 100)::int), s.at
    FROM aggs a JOIN stamps s ON s.id = a.id ORDER BY a.id, s.version;
)SQL";

class Snapshots : public DaemonTest {
  protected:
    std::string folds_yaml(int keep) const {
        std::string text = folds;
        text.replace(text.find("KEEP"), 4, std::to_string(keep));
        while (text.find("KEEP") != std::string::npos)
            text.replace(text.find("KEEP"), 4, std::to_string(keep));
        return text;
    }

    config::Config load(const std::string& text) {
        auto loaded = config::load_string(text, "snapshots.yaml", {});
        if (!loaded.config) {
            std::string all;
            for (const auto& d : loaded.errors)
                all += config::format(d) + "\n";
            throw std::runtime_error("config did not load:\n" + all);
        }
        return *loaded.config;
    }

    // Installs every fold function of `c` as the daemon does.
    void install(const config::Config& c) {
        for (const auto& s : c.snapshots)
            conn().exec_script(projections::fold_function(s, "\"events\"").install_sql);
    }

    // Takes a snapshot at every version that is a multiple of `every`, through the daemon's
    // batch function, aggregate by aggregate in version order.
    void take_all(const config::Config& c) {
        for (const auto& s : c.snapshots) {
            auto f = projections::fold_function(s, "\"events\"");
            conn().exec_script(f.take_sql);
            auto ids = conn().exec(
                "SELECT coalesce(array_agg(id ORDER BY aggregate_id, version)::text, '{}') "
                "FROM events WHERE aggregate_type = $1 AND version % $2 = 0",
                pg::Params(s.aggregate_type, s.every));
            conn().exec(f.call_sql, pg::Params(std::string(ids.text(0, 0))));
        }
    }

    // Aggregates whose aggregate_state (at `as_of`, a SQL expression over a.*, or now) differs
    // from the reference up to `up_to` (a SQL expression over a.*); the first few for messages.
    std::pair<std::int64_t, std::string> mismatches(const std::string& as_of = "NULL",
                                                    const std::string& up_to = "NULL",
                                                    int ops_factor = 1) {
        auto r = conn().exec(
            "SELECT a.type, a.id::text, s.version, s.state::text, r.version, r.state::text "
            "FROM aggs a, LATERAL sluice.aggregate_state(a.type, a.id, " +
            as_of + ") s, LATERAL ref_state(a.type, a.id, " + up_to + ", " +
            std::to_string(ops_factor) +
            ") r "
            "WHERE (s.version, s.state) IS DISTINCT FROM (r.version, r.state)");
        std::string sample;
        for (int i = 0; i < std::min(r.rows(), 3); ++i) {
            sample += std::string(r.text(i, 0)) + " " + std::string(r.text(i, 1)) + ": got v" +
                      std::string(r.text(i, 2)) + " " + std::string(r.text(i, 3)) + ", expected v" +
                      std::string(r.text(i, 4)) + " " + std::string(r.text(i, 5)) + "\n";
        }
        return {r.rows(), sample};
    }

    void generate() {
        migrate();
        conn().exec_script(generate_sql);
        conn().exec_script(reference_sql);
    }
};

TEST_F(Snapshots, AggregateStateEqualsAFoldFromTheFirstEventWithAndWithoutSnapshots) {
    generate();
    ASSERT_GE(scalar("SELECT count(*) FROM events"), 100000);
    const auto c = load(base_config() + folds_yaml(3));
    install(c);

    // No snapshots at all: every state is folded from the first event.
    ASSERT_EQ(scalar("SELECT count(*) FROM sluice.snapshots"), 0);
    auto [without, sample_without] = mismatches();
    EXPECT_EQ(without, 0) << sample_without;

    take_all(c);
    // keep: 3 of each aggregate's multiples of 10.
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.snapshots"),
              scalar("SELECT sum(least(3, len / 10)) FROM aggs"));
    EXPECT_EQ(differences("SELECT aggregate_id, version FROM sluice.snapshots",
                          "SELECT a.id, v FROM aggs a, generate_series(1, a.len) v "
                          "WHERE v % 10 = 0 AND v > (a.len / 10 - 3) * 10"),
              0);
    auto [with, sample_with] = mismatches();
    EXPECT_EQ(with, 0) << sample_with;

    // As of a moment between snapshots (5 versions after one of the kept ones) and long
    // before the kept ones (folded from the first event).
    auto [between, sample_between] = mismatches(
        "(SELECT s.at + interval '1 s' FROM stamps s WHERE s.id = a.id "
        "AND s.version = greatest(1, a.len - 15))",
        "greatest(1, a.len - 15)");
    EXPECT_EQ(between, 0) << sample_between;
    auto [early, sample_early] = mismatches(
        "(SELECT s.at + interval '1 s' FROM stamps s WHERE s.id = a.id "
        "AND s.version = greatest(1, a.len * 6 / 10))",
        "greatest(1, a.len * 6 / 10)");
    EXPECT_EQ(early, 0) << sample_early;
    // Before the first event: no state.
    EXPECT_EQ(scalar("SELECT count(*) FROM aggs a, "
                     "LATERAL sluice.aggregate_state(a.type, a.id, '2023-12-31') s "
                     "WHERE s.version IS NOT NULL OR s.state IS NOT NULL"),
              0);

    // The loads read the snapshots: a marked snapshot shows in the state built on it.
    conn().exec(
        "UPDATE sluice.snapshots SET state = state || '{\"marked\": true}' "
        "WHERE (aggregate_id, version) = (SELECT id, 5000 FROM aggs "
        "WHERE type = 'Account' AND len = 5000 LIMIT 1)");
    EXPECT_EQ(scalar("SELECT count(*) FROM aggs a, LATERAL sluice.aggregate_state(a.type, a.id) s "
                     "WHERE s.state ? 'marked'"),
              1);
}

TEST_F(Snapshots, AChangedFoldIgnoresTheSnapshotsOfTheOldOne) {
    generate();
    const auto c = load(base_config() + folds_yaml(3));
    install(c);
    take_all(c);
    // Account's ops now count twice: a new fingerprint, and the old snapshots (ops counted
    // once) must not be read.
    std::string changed = folds_yaml(3);
    const std::string once = "'ops', (:state->>'ops')::int + 1";
    for (auto at = changed.find(once); at != std::string::npos; at = changed.find(once, at))
        changed.replace(at, once.size(), "'ops', (:state->>'ops')::int + 2");
    const auto c2 = load(base_config() + changed);
    ASSERT_NE(projections::fold_fingerprint(c.snapshots[0], "\"events\""),
              projections::fold_fingerprint(c2.snapshots[0], "\"events\""));
    install(c2);
    auto [stale, sample] = mismatches("NULL", "NULL", 2);
    EXPECT_EQ(stale, 0) << sample;
}

// Snapshots taken by subscriber snapshots:TYPE must be exactly those at versions that are
// multiples of 10 among the events up to its checkpoint: none missing, none ahead of it.
std::string taken(const std::string& type) {
    return "SELECT aggregate_id, version FROM sluice.snapshots WHERE aggregate_type = '" + type +
           "'";
}
std::string due(const std::string& type) {
    return "SELECT e.aggregate_id, e.version::bigint FROM events e, sluice.checkpoints k "
           "WHERE k.name = 'snapshots:" +
           type + "' AND e.aggregate_type = '" + type +
           "' AND e.version % 10 = 0 "
           "AND (e.transaction_id, e.id) <= (k.transaction_id, k.event_id)";
}

TEST_F(Snapshots, TheDaemonKeepsSnapshotsExactlyOnceAcrossKillNine) {
    generate();
    const std::vector<std::string> types = {"Account", "Order", "Seat"};
    // keep: 1000 keeps every snapshot, so a gap would show.
    const auto config_path =
        write_file("sluice.yaml", base_config({.batch_size = 200}) + folds_yaml(1000));
    const Position last = head();
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> delay_ms(300, 1500);
    int killed_mid_way = 0;
    for (int round = 1; round <= 6; ++round) {
        auto daemon = DaemonProcess::start(config_path);
        // Load shape: the kill lands at a random moment, whatever the daemon is doing.
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
        ASSERT_TRUE(daemon.running()) << "round " << round << "\n" << diagnose(daemon);
        daemon.kill(SIGKILL);
        auto exit = daemon.wait_exit(10s);
        ASSERT_TRUE(exit && exit->signal == SIGKILL) << "round " << round;
        for (const auto& type : types) {
            EXPECT_EQ(differences(taken(type), due(type)), 0)
                << "after kill " << round << ": snapshots of " << type
                << " disagree with its checkpoint";
            auto at = checkpoint("snapshots:" + type);
            if (at && at->id > 0 && *at < last)
                ++killed_mid_way;
        }
        if (HasFailure())
            return;
    }
    EXPECT_GE(killed_mid_way, 3) << "too few kills landed mid-way; nothing was tested";

    auto daemon = DaemonProcess::start(config_path);
    for (const auto& type : types) {
        ASSERT_TRUE(wait_checkpoint("snapshots:" + type, last, 180s)) << type << " did not finish\n"
                                                                      << diagnose(daemon);
        EXPECT_EQ(differences(taken(type), due(type)), 0) << type;
    }
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.snapshots"),
              scalar("SELECT sum(len / 10) FROM aggs"));
    // Each snapshot is the state at its version.
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.snapshots s, "
                     "LATERAL ref_state(s.aggregate_type, s.aggregate_id, s.version) r "
                     "WHERE (s.version, s.state) IS DISTINCT FROM (r.version, r.state)"),
              0);
    auto [wrong, sample] = mismatches();
    EXPECT_EQ(wrong, 0) << sample;

    // `sluice state` prints what aggregate_state returns.
    const std::string id(conn()
                             .exec("SELECT id::text FROM aggs WHERE type = 'Order' AND len = "
                                   "5000 LIMIT 1")
                             .text(0, 0));
    auto printed = run_command(
        {sluice_binary(), "state", "--database-url", url(), "--aggregate-id", id, "--json"}, 30s);
    ASSERT_TRUE(printed.status.is_exit(0)) << printed.output;
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.aggregate_state('Order', $1::uuid) s "
                     "WHERE $2::jsonb = jsonb_build_object('aggregate_id', $1::text, "
                     "'aggregate_type', 'Order', 'version', s.version, 'state', s.state)",
                     pg::Params(id, printed.output)),
              1)
        << printed.output;

    // A changed fold: its subscriber starts over and replaces every snapshot of Account.
    daemon.kill(SIGTERM);
    ASSERT_TRUE(daemon.wait_exit(20s)) << diagnose(daemon);
    std::string changed = folds_yaml(1000);
    const std::string once = "'ops', (:state->>'ops')::int + 1";
    for (auto at = changed.find(once); at != std::string::npos; at = changed.find(once, at))
        changed.replace(at, once.size(), "'ops', (:state->>'ops')::int + 2");
    write_file("sluice.yaml", base_config({.batch_size = 200}) + changed);
    const std::string old_fingerprint(
        conn()
            .exec("SELECT fingerprint FROM sluice.snapshot_subscribers "
                  "WHERE name = 'snapshots:Account'")
            .text(0, 0));
    auto restarted = DaemonProcess::start(config_path);
    ASSERT_TRUE(wait_until(
        [&] {
            return scalar(
                       "SELECT count(*) FROM sluice.snapshots WHERE aggregate_type = "
                       "'Account' AND fingerprint = $1",
                       pg::Params(old_fingerprint)) == 0 &&
                   checkpoint("snapshots:Account") == last;
        },
        180s))
        << "the Account snapshots were not rebuilt\n"
        << diagnose(restarted);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.snapshots s, "
                     "LATERAL ref_state(s.aggregate_type, s.aggregate_id, s.version, 2) r "
                     "WHERE s.aggregate_type = 'Account' "
                     "AND (s.version, s.state) IS DISTINCT FROM (r.version, r.state)"),
              0);
    EXPECT_EQ(differences(taken("Account"), due("Account")), 0);
    auto [stale, stale_sample] = mismatches("NULL", "NULL", 2);
    EXPECT_EQ(stale, 0) << stale_sample;
}

TEST_F(Snapshots, AggregateStateWithoutAFoldSaysSo) {
    migrate();
    try {
        conn().exec("SELECT * FROM sluice.aggregate_state('Nothing', gen_random_uuid())");
        FAIL() << "expected an error";
    } catch (const pg::ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "SL012");
        EXPECT_NE(std::string(e.what()).find("no fold for aggregate type Nothing"),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace sluice::testing
