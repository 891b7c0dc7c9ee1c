// A PostgreSQL cluster of the test's own (scripts/pg), for faults that would hurt other tests
// sharing the suite's cluster: a restart terminates every session in the cluster. The server
// restarts on the same port and data directory, so URLs stay valid across restarts.
// Adapted from the cluster helper in tests/service/readiness_pgtest.cpp (kept in that file's
// anonymous namespace, so copied here rather than shared).
// Error policy: std::runtime_error when scripts/pg or pg_ctl fail (with their output).
#pragma once

#include <string>

namespace sluice::testing::fault {

class OwnCluster {
  public:
    OwnCluster();  // scripts/pg start
    OwnCluster(const OwnCluster&) = delete;
    OwnCluster& operator=(const OwnCluster&) = delete;
    ~OwnCluster();  // scripts/pg stop (removes the data directory)

    // postgresql://postgres@127.0.0.1:<port>/postgres
    [[nodiscard]] const std::string& url() const { return url_; }
    // pg_ctl restart -m fast (as `postgres` when running as root), waiting until it accepts
    // connections again: every session is terminated, as in a failover or a maintenance restart.
    void restart();

  private:
    std::string dir_;
    std::string url_;
};

}  // namespace sluice::testing::fault
