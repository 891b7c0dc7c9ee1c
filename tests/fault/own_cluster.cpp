#include "own_cluster.hpp"

#include <chrono>
#include <stdexcept>

#include "daemon_process.hpp"
#include "test_database.hpp"

namespace sluice::testing::fault {
namespace {

using namespace std::chrono_literals;

std::string script() {
    return source_dir() + "/scripts/pg";
}

std::string exported(const std::string& output, const std::string& name) {
    std::string prefix = "export " + name + "='";
    auto at = output.find(prefix);
    if (at == std::string::npos)
        throw std::runtime_error("scripts/pg start printed no " + name + ":\n" + output);
    at += prefix.size();
    return output.substr(at, output.find('\'', at) - at);
}

}  // namespace

OwnCluster::OwnCluster() {
    auto r = run_command({"/bin/bash", script(), "start"}, 120s);
    if (!r.status.is_exit(0))
        throw std::runtime_error("scripts/pg start failed:\n" + r.output);
    dir_ = exported(r.output, "SLUICE_PG_DIR");
    url_ = exported(r.output, "DATABASE_URL");
}

OwnCluster::~OwnCluster() {
    (void)run_command({"/bin/bash", script(), "stop", dir_}, 60s);
}

void OwnCluster::restart() {
    // scripts/pg restart runs pg_ctl as the cluster's owner and reuses postmaster.opts.
    auto r = run_command({"/bin/bash", script(), "restart", dir_}, 90s);
    if (!r.status.is_exit(0))
        throw std::runtime_error("scripts/pg restart failed: " + r.status.describe() + "\n" +
                                 r.output);
}

}  // namespace sluice::testing::fault
