// per_aggregate ordering through `sluice run` while the endpoint fails at random: for every
// aggregate, the first successful receipt of each version comes in version order.
#include <map>
#include <random>
#include <set>

#include "webhook_fixture.hpp"

namespace sluice::testing {
namespace {

class WebhookOrdering : public WebhookTest {};

constexpr int aggregates = 50;
constexpr int versions = 10;

TEST_F(WebhookOrdering, PerAggregateOrderHoldsUnderRandomFailures) {
    HttpReceiver receiver({.secrets = {secret_a}});
    // The receiver answers in arrival order from this script: ~30% 500s, then 200s. It serves
    // on one thread, so requests() lists requests in the order their reactions were taken.
    std::mt19937 rng(std::random_device{}());
    std::bernoulli_distribution fails(0.3);
    std::vector<bool> failed;
    for (int i = 0; i < 4000; ++i) {
        failed.push_back(fails(rng));
        receiver.script(Reaction::status_code(failed.back() ? 500 : 200));
    }
    // Ten attempts: the chance that one message dies (0.3^10) is negligible.
    write_config({webhook_yaml("ordered", receiver.url(),
                               "    ordering: per_aggregate\n"
                               "    retry: {schedule: [20ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, "
                               "50ms, 50ms], jitter: 0%}\n")});
    append_many(aggregates, versions);
    const auto started = std::chrono::steady_clock::now();
    auto daemon = DaemonProcess::start(config_path_);

    ASSERT_TRUE(wait_outbox_rows("ordered", "delivered", aggregates * versions, 60s))
        << diagnose(daemon);
    const auto took = std::chrono::steady_clock::now() - started;
    auto requests = receiver.requests();
    ASSERT_LE(requests.size(), failed.size()) << "script too short for this run";

    std::map<std::string, std::vector<std::int64_t>> first_success;  // aggregate -> versions
    std::set<std::pair<std::string, std::int64_t>> succeeded;
    std::size_t failures = 0;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        auto d = parse_delivery(requests[i]);
        if (failed[i]) {
            ++failures;
            continue;
        }
        if (succeeded.emplace(d.aggregate_id, d.version).second)
            first_success[d.aggregate_id].push_back(d.version);
    }
    ASSERT_EQ(first_success.size(), static_cast<std::size_t>(aggregates));
    std::vector<std::int64_t> in_order;
    for (int v = 1; v <= versions; ++v)
        in_order.push_back(v);
    for (const auto& [aggregate, seen] : first_success)
        EXPECT_EQ(seen, in_order) << "aggregate " << aggregate;
    EXPECT_GT(failures, requests.size() / 5) << "the endpoint should have failed ~30%";
    EXPECT_EQ(outbox_rows("ordered", "dead"), 0);
    // Hundreds of failed attempts, yet the log says so once per 10 s, with how many it held back.
    const auto lines = daemon.count_in_log("webhook attempt failed");
    EXPECT_GE(lines, 1U) << daemon.output_tail();
    EXPECT_LE(lines, static_cast<std::size_t>(took / 10s) + 1) << daemon.output_tail();
    EXPECT_TRUE(daemon.wait_for_log("similar_held_back=", 1s)) << daemon.output_tail();
}

}  // namespace
}  // namespace sluice::testing
