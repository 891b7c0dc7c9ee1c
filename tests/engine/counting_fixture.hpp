// DaemonTest with one projection `p` that counts how often each event is applied (table
// `applied (event_id, times)`), over a fresh migrated database: what the ownership tests observe.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "daemon_fixture.hpp"

namespace sluice::testing {

class CountingProjectionTest : public DaemonTest {
  protected:
    void SetUp() override {
        DaemonTest::SetUp();
        migrate();
    }

    // Writes the config (database `url`, failover_after 10s so the coordinator ticks once a
    // second, polls every 200 ms, batches of 50, HTTP on a free port) and returns its path.
    std::string write_config(const std::string& url);
    // An aggregate of `applied` ("count(*)", "max(times)"); 0 before the table exists.
    std::int64_t applied(const std::string& aggregate);
    // SIGTERM; expects exit code 0 within 30 s.
    static void expect_clean_stop(DaemonProcess& daemon);
};

}  // namespace sluice::testing
