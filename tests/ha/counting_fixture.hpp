// A daemon with one projection `p` that counts how often each event is applied (table
// `applied (event_id, times)`), over a fresh database: what the ownership tests observe.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "daemon_process.hpp"
#include "test_database.hpp"

namespace sluice::testing {

class CountingProjectionTest : public ::testing::Test {
  protected:
    void SetUp() override { db_.migrate(); }

    // Writes the config (database `url`, failover_after 10s so the coordinator ticks once a
    // second, polls every 200 ms, HTTP on a free port) and returns its path.
    std::string write_config(const std::string& url);
    // Appends `n` Tick events, one aggregate each, in one transaction.
    void append(int n);
    // An aggregate of `applied` ("count(*)", "max(times)"); 0 before the table exists.
    std::int64_t applied(const std::string& aggregate);
    // SIGTERM; expects exit code 0 within 30 s.
    static void expect_clean_stop(DaemonProcess& daemon);

    TestDatabase db_ = TestDatabase::create();
    pg::Connection conn_ = db_.connect();
};

}  // namespace sluice::testing
