#include "infra/metrics/registry.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sluice::metrics {
namespace {

TEST(Counter, RejectsANegativeIncrement) {
    Counter c;
    c.inc(2);
    EXPECT_THROW(c.inc(-1), std::invalid_argument);
    EXPECT_THROW(c.inc(std::nan("")), std::invalid_argument);
    EXPECT_EQ(c.value(), 2);
}

TEST(Gauge, GoesUpAndDown) {
    Gauge g;
    g.inc(5);
    g.dec(2);
    EXPECT_EQ(g.value(), 3);
    g.set(-1.5);
    EXPECT_EQ(g.value(), -1.5);
}

TEST(Histogram, CountsAnObservationEqualToABoundInThatBucket) {
    Histogram h({1, 2, 5});
    for (double v : {0.5, 1.0, 1.5, 2.0, 7.0}) {
        h.observe(v);
    }
    const auto s = h.snapshot();
    EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 4, 4}));
    EXPECT_EQ(s.count, 5u);
    EXPECT_DOUBLE_EQ(s.sum, 12.0);
}

TEST(Histogram, DropsATrailingInfBoundAndRejectsUnsortedOrNonFiniteBounds) {
    EXPECT_EQ(Histogram({1, INFINITY}).upper_bounds(), std::vector<double>{1});
    EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
    EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
    EXPECT_THROW(Histogram({std::nan(""), 1}), std::invalid_argument);
}

TEST(Histogram, CountsNaNInTheInfBucketOnly) {
    Histogram h({1});
    h.observe(std::nan(""));
    const auto s = h.snapshot();
    EXPECT_EQ(s.cumulative[0], 0u);
    EXPECT_EQ(s.count, 1u);
}

TEST(Histogram, KeepsCountEqualToTheInfBucketUnderConcurrentObservations) {
    Histogram h(default_buckets());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&h, t] {
            for (int i = 0; i < 10000; ++i) {
                h.observe(0.001 * ((i + t) % 20000));
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    const auto s = h.snapshot();
    EXPECT_EQ(s.count, 40000u);
    EXPECT_LE(s.cumulative.back(), s.count);
}

TEST(Registry, RejectsInvalidNamesAndDuplicates) {
    Registry r;
    EXPECT_THROW(r.add_counter("1abc", "x"), std::invalid_argument);
    EXPECT_THROW(r.add_counter("a-b", "x"), std::invalid_argument);
    EXPECT_THROW(r.add_counter("ok_total", "x", {"__reserved"}), std::invalid_argument);
    EXPECT_THROW(r.add_counter("ok_total", "x", {"a:b"}), std::invalid_argument);
    EXPECT_THROW(r.add_counter("ok_total", "x", {"a", "a"}), std::invalid_argument);
    EXPECT_THROW(r.add_histogram("h_seconds", "x", {"le"}), std::invalid_argument);
    EXPECT_THROW(r.add_histogram("h_seconds", "x", {}, {3, 2}), std::invalid_argument);
    r.add_counter("ok_total", "x");
    EXPECT_THROW(r.add_gauge("ok_total", "x"), std::invalid_argument);
    EXPECT_NO_THROW(r.add_gauge("name:with_colon", "x"));
}

TEST(Registry, ExportsAnUnlabelledMetricAtZeroFromRegistration) {
    Registry r;
    r.add_counter("things_total", "Things.");
    EXPECT_EQ(r.expose(),
              "# HELP things_total Things.\n# TYPE things_total counter\nthings_total 0\n");
}

TEST(Family, KeepsChildrenAliveAndReturnsTheSameChildForTheSameLabels) {
    Registry r;
    auto& family = r.add_counter("jobs_total", "Jobs.", {"queue", "kind"});
    family.with({"a", "x"}).inc();
    family.with({"a", "x"}).inc(2);
    EXPECT_EQ(&family.with({"a", "x"}), &family.with({"a", "x"}));
    EXPECT_EQ(family.with({"a", "x"}).value(), 3);
    EXPECT_THROW(family.with({"a"}), std::invalid_argument);
}

TEST(Family, StopsExportingARemovedChildWhileItsHandleStaysUsable) {
    Registry r;
    auto& family = r.add_gauge("depth", "Depth.", {"queue"});
    auto handle = family.shared({"gone"});
    family.with({"kept"}).set(1);
    EXPECT_TRUE(family.remove({"gone"}));
    EXPECT_FALSE(family.remove({"gone"}));
    handle->set(5);  // still valid memory, just not exported
    const std::string text = r.expose();
    EXPECT_EQ(text.find("gone"), std::string::npos);
    EXPECT_NE(text.find("depth{queue=\"kept\"} 1"), std::string::npos);
}

TEST(Registry, RunsCollectHooksBeforeReadingFamilies) {
    Registry r;
    auto& g = r.add_gauge("computed", "Computed at scrape time.").with({});
    int calls = 0;
    r.add_collect_hook([&] { g.set(++calls * 10); });
    EXPECT_NE(r.expose().find("computed 10\n"), std::string::npos);
    EXPECT_NE(r.expose().find("computed 20\n"), std::string::npos);
}

TEST(Registry, RendersFamiliesInRegistrationOrderAndChildrenSortedByLabels) {
    Registry r;
    auto& b = r.add_gauge("b_metric", "B.", {"x"});
    r.add_gauge("a_metric", "A.");
    b.with({"2"}).set(2);
    b.with({"1"}).set(1);
    const std::string text = r.expose();
    EXPECT_LT(text.find("b_metric{x=\"1\"}"), text.find("b_metric{x=\"2\"}"));
    EXPECT_LT(text.find("b_metric"), text.find("a_metric"));
}

TEST(Registry, AllowsUpdatesAndScrapesFromManyThreads) {
    Registry r;
    auto& family = r.add_counter("hits_total", "Hits.", {"worker"});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&family, &r, t] {
            for (int i = 0; i < 2000; ++i) {
                family.with({std::to_string(t)}).inc();
                if (i % 500 == 0) {
                    (void)r.expose();
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (int t = 0; t < 4; ++t) {
        EXPECT_EQ(family.with({std::to_string(t)}).value(), 2000);
    }
}

}  // namespace
}  // namespace sluice::metrics
