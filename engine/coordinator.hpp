// Shares the units of work among every `sluice run` against one database. PostgreSQL is the
// coordinator: each instance registers in sluice.instances and holds a session advisory lock on
// a dedicated connection (live = lock held and heartbeat fresh); each unit it owns is a session
// advisory lock on that connection plus a sluice.owners row, heart-beaten every tick. Each tick
// decides (FairShare) what to take and let go and tells the Work, which starts and stops the
// units' runners. When the coordination connection fails, every unit stops at once (its locks
// went with the session) and comes back after reconnecting. The owners row is the fencing
// token: runners check it in every batch transaction, so a unit never has two writers.
// Through a transaction-mode pool (options.pooling) no session lock can hold: a unit is then
// owned by a lease, its owners row alone, renewed by the heartbeat of every tick and free for
// another instance once silent for failover_after; each takeover draws a new fencing token that
// the runners present in every batch (store::lease_owner). A lost coordination connection then
// stops nothing until the lease would have run out.
// Threading: event-loop thread only. Error policy: run() never throws; failures are logged,
// retried with bounded backoff and visible in stats().
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/fair_share.hpp"
#include "infra/pg/async_connection.hpp"

namespace sluice::engine {

namespace asio = boost::asio;

// What the coordinator drives: the units of the current config, and their runners.
class Work {
  public:
    virtual ~Work() = default;
    [[nodiscard]] virtual std::vector<std::string> units() const = 0;
    // Starts the runners of `owned` not running yet and stops (draining) the others. Each unit
    // comes with the owner its batches present to sluice.check_owner (the fencing token); a
    // running unit whose owner changed starts again.
    virtual asio::awaitable<void> own(std::map<std::string, std::string> owned) = 0;
    // Units whose runner found, in a batch, that another instance owns them now.
    [[nodiscard]] virtual std::vector<std::string> handed_over() = 0;
};

struct CoordinatorOptions {
    std::string url;
    std::string instance;  // unique per process: host:pid:random
    std::string host;
    int pid = 0;
    std::chrono::milliseconds failover_after{10000};
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds statement_timeout{30000};
    pg::Pooling pooling = pg::Pooling::session;  // transaction: leases, not session locks
};

struct CoordinatorStats {
    bool connected = false;
    int live_instances = 0;
    std::set<std::string> owned;
    std::uint64_t reconnects = 0;
    std::uint64_t takeovers = 0;  // units taken
    std::uint64_t releases = 0;   // units let go (surplus, lost, removed)
    std::uint64_t rounds = 0;     // completed rounds (observe, decide, act): 0 while starting
    std::string last_error;
};

class Coordinator {
  public:
    Coordinator(asio::any_io_executor ex, CoordinatorOptions options, Work& work);

    // Returns after stop() once the owned units are stopped and released: await its completion
    // (the daemon's shutdown does, bounded by the drain time).
    asio::awaitable<void> run();
    // Ends run(): owned units stop and are released, the instance row is removed.
    void stop();
    // Re-evaluates at once (after a reload changed the units).
    void wake();

    [[nodiscard]] const CoordinatorStats& stats() const { return stats_; }
    // The period between ticks: a tenth of failover_after, within [200 ms, 1 s].
    [[nodiscard]] std::chrono::milliseconds tick() const;

  private:
    asio::awaitable<void> session(pg::AsyncConnection& conn);
    // Locks: registers this connection's server session, and holds the instance lock in it.
    asio::awaitable<void> hold_instance_lock(pg::AsyncConnection& conn);
    asio::awaitable<ShareInput> observe(pg::AsyncConnection& conn);
    // The units as sluice.owners shows them when they are held by leases.
    [[nodiscard]] std::vector<UnitView> leased_units(const pg::Result& r) const;
    asio::awaitable<bool> acquire(pg::AsyncConnection& conn, const std::string& name);
    // Tells the Work what this instance owns now, each unit with its owner.
    asio::awaitable<void> hand_to_work();
    [[nodiscard]] bool leases() const { return options_.pooling == pg::Pooling::transaction; }
    asio::awaitable<void> act(pg::AsyncConnection& conn, const Decision& d);
    asio::awaitable<void> release_everything(pg::AsyncConnection& conn);
    asio::awaitable<void> wait(std::chrono::milliseconds d);

    asio::any_io_executor ex_;
    CoordinatorOptions options_;
    Work& work_;
    FairShare share_;
    CoordinatorStats stats_;
    int backend_pid_ = 0;
    std::set<int> former_backends_;  // server sessions of earlier connections of this instance
    std::map<std::string, std::string> owners_;  // of each owned unit: what its batches present
    Clock::time_point renewed_{};                // the last heartbeat that renewed the leases
    bool stopping_ = false;
    std::unique_ptr<asio::steady_timer> timer_;
};

}  // namespace sluice::engine
