// A PostgreSQL cluster of the test's own (scripts/pg), for faults that would hurt other tests
// sharing the suite's cluster: stopping or restarting the server ends every session in it. The
// server comes back on the same port and data directory, so URLs stay valid.
// Error policy: std::runtime_error when scripts/pg or pg_ctl fail (with their output).
#pragma once

#include <string>
#include <vector>

namespace sluice::testing {

class OwnCluster {
  public:
    OwnCluster();  // scripts/pg start
    OwnCluster(const OwnCluster&) = delete;
    OwnCluster& operator=(const OwnCluster&) = delete;
    ~OwnCluster();  // scripts/pg stop (removes the data directory)

    // postgresql://postgres@127.0.0.1:<port>/postgres
    [[nodiscard]] const std::string& url() const { return url_; }

    // pg_ctl restart -m fast through scripts/pg, waiting until it accepts connections again:
    // every session is terminated, as in a failover or a maintenance restart.
    void restart();
    // Stops the server (fast) and starts it again, for outages of a chosen length.
    void stop_server();
    void start_server();

  private:
    // As scripts/pg does: the server runs as `postgres` when the tests run as root.
    void pg_ctl(const std::vector<std::string>& args);

    std::string dir_;
    std::string url_;
    std::string port_;
};

}  // namespace sluice::testing
