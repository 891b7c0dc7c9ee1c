#include "own_cluster.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "daemon_process.hpp"
#include "test_database.hpp"

namespace sluice::testing {
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
    std::ifstream port(dir_ + "/port");
    port >> port_;
    if (port_.empty())
        throw std::runtime_error("no port file in " + dir_);
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

void OwnCluster::stop_server() {
    pg_ctl({"-D", dir_ + "/data", "-m", "fast", "-w", "-t", "60", "stop"});
}

// The options scripts/pg starts the server with that matter here: same port and socket dir.
void OwnCluster::start_server() {
    pg_ctl({"-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w", "-t", "60", "start", "-o",
            "-p " + port_ + " -k " + dir_ + " -c listen_addresses=127.0.0.1 -c fsync=off"});
}

void OwnCluster::pg_ctl(const std::vector<std::string>& args) {
    const char* bin = std::getenv("PG_BIN");
    std::vector<std::string> argv;
    if (geteuid() == 0)
        argv = {"/usr/sbin/runuser", "-u", "postgres", "--"};
    argv.push_back(std::string(bin != nullptr ? bin : "/usr/lib/postgresql/15/bin") + "/pg_ctl");
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv, 90s);
    if (!r.status.is_exit(0))
        throw std::runtime_error("pg_ctl " + args.back() + " failed: " + r.status.describe() +
                                 "\n" + r.output);
}

}  // namespace sluice::testing
