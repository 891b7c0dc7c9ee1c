#include "engine/coordinator.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "infra/backoff/backoff.hpp"
#include "infra/failure/failure.hpp"
#include "infra/log/log.hpp"
#include "infra/pg/literal.hpp"
#include "store/coordination.hpp"
#include "store/sessions.hpp"

namespace sluice::engine {
namespace {

using std::chrono::milliseconds;

// A connection whose statements reach different server sessions: its session locks mean nothing.
struct PooledConnection : std::runtime_error {
    PooledConnection()
        : std::runtime_error(
              "the coordination connection moved to another server session (a "
              "transaction-pooling proxy?): sluice needs a session-level connection unless "
              "database.pooling is transaction") {}
};

// With leases, UnitView::holder_pid says who holds a live lease: this instance or another.
constexpr int lease_held_here = 0;
constexpr int lease_held_elsewhere = -1;

std::string interval(milliseconds d) {
    return std::to_string(d.count()) + " milliseconds";
}

}  // namespace

Coordinator::Coordinator(asio::any_io_executor ex, CoordinatorOptions options, Work& work)
    : ex_(std::move(ex)),
      options_(std::move(options)),
      work_(work),
      share_(options_.failover_after / 4, options_.failover_after),
      timer_(std::make_unique<asio::steady_timer>(ex_)) {}

milliseconds Coordinator::tick() const {
    return std::clamp(options_.failover_after / 10, milliseconds(200), milliseconds(1000));
}

void Coordinator::stop() {
    stopping_ = true;
    timer_->cancel();
}

void Coordinator::wake() {
    timer_->cancel();
}

asio::awaitable<void> Coordinator::wait(milliseconds d) {
    timer_->expires_after(d);
    co_await timer_->async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> Coordinator::run() {
    Backoff backoff(milliseconds(200), std::max(tick(), options_.failover_after / 2));
    bool first = true;
    while (!stopping_) {
        Failure failed;
        try {
            auto conn = co_await pg::AsyncConnection::connect(
                ex_, options_.url, options_.connect_timeout,
                {std::string(store::sessions::coordination), options_.statement_timeout,
                 options_.pooling});
            if (!first)
                ++stats_.reconnects;
            first = false;
            co_await session(conn);
            backoff.reset();
        } catch (const std::exception&) {
            failed = Failure::current();
        }
        stats_.connected = false;
        if (!failed)
            continue;
        const std::string error = failed.what();
        const bool pooled = failed.is<PooledConnection>();
        stats_.last_error = error;
        if (pooled) {
            log::error(
                "cannot own work through this connection; point database.url at "
                "PostgreSQL or a session-mode pool, or set database.pooling: transaction",
                {{"error", error}});
        }
        // Leases outlive the connection: the units carry on (their batches are fenced) until
        // the leases would have run out.
        const bool lease_left =
            leases() && Clock::now() - renewed_ < options_.failover_after && !stopping_;
        if (!stats_.owned.empty() && lease_left) {
            log::warn("coordination connection lost; the owned units keep their leases meanwhile",
                      {{"units", stats_.owned.size()}, {"error", error}});
        } else if (!stats_.owned.empty()) {
            log::warn("coordination connection lost; stopping every owned unit until it is back",
                      {{"units", stats_.owned.size()}, {"error", error}});
            stats_.releases += stats_.owned.size();
            stats_.owned.clear();
            owners_.clear();
            co_await work_.own({});
        } else if (!pooled) {
            log::warn("coordination connection failed; retrying", {{"error", error}});
        }
        if (!stopping_)
            co_await wait(backoff.next());
    }
    co_await work_.own({});
    stats_.owned.clear();
    owners_.clear();
}

asio::awaitable<void> Coordinator::hand_to_work() {
    std::map<std::string, std::string> owned;
    for (const auto& name : stats_.owned)
        owned[name] = owners_.at(name);
    co_await work_.own(std::move(owned));
}

asio::awaitable<void> Coordinator::session(pg::AsyncConnection& conn) {
    if (leases()) {
        backend_pid_ = 0;  // no session of our own: no lock, no pid to check
    } else {
        co_await hold_instance_lock(conn);
    }
    co_await conn.query("DELETE FROM sluice.instances WHERE heartbeat < now() - interval '1 day'",
                        {}, options_.statement_timeout);
    stats_.connected = true;
    stats_.last_error.clear();
    log::info("coordination connected",
              {{"instance", options_.instance}, {"ownership", leases() ? "leases" : "locks"}});
    while (!stopping_) {
        auto input = co_await observe(conn);
        if (input.backend_pid != backend_pid_)
            throw PooledConnection();
        auto decision = share_.decide(input, Clock::now());
        co_await act(conn, decision);
        ++stats_.rounds;
        if (stopping_)
            break;
        co_await wait(tick());
    }
    co_await release_everything(conn);
}

asio::awaitable<void> Coordinator::hold_instance_lock(pg::AsyncConnection& conn) {
    // The server session behind this connection (not PQbackendPID: behind a pool that is the
    // pool's own key). Every tick checks it is still the same one: session locks live there.
    auto pid = co_await conn.query("SELECT pg_backend_pid()", {}, options_.statement_timeout);
    if (backend_pid_ != 0)
        former_backends_.insert(backend_pid_);
    backend_pid_ = static_cast<int>(pid.int64(0, 0));
    co_await conn.query("SELECT pg_advisory_lock(sluice.instance_lock_key($1))",
                        pg::Params(options_.instance), options_.statement_timeout);
}

asio::awaitable<ShareInput> Coordinator::observe(pg::AsyncConnection& conn) {
    auto units = work_.units();
    std::vector<pg::Step> steps;
    steps.push_back(
        {"INSERT INTO sluice.instances (instance_id, host, pid, lock_key) "
         "VALUES ($1, $2, $3::int, sluice.instance_lock_key($1)) "
         "ON CONFLICT (instance_id) DO UPDATE SET heartbeat = now()",
         pg::Params(options_.instance, options_.host, options_.pid)});
    steps.push_back({"UPDATE sluice.owners SET heartbeat = now() WHERE instance_id = $1",
                     pg::Params(options_.instance)});
    if (leases()) {
        // Live: a fresh heartbeat (no session lock to look at).
        steps.push_back(
            {"SELECT count(*), 0 FROM sluice.instances "
             "WHERE heartbeat > now() - $1::interval",
             pg::Params(interval(options_.failover_after))});
        steps.push_back(
            {"SELECT u.name, o.instance_id, extract(epoch FROM now() - o.heartbeat)::float8, "
             "o.token FROM unnest($1::text[]) AS u(name) "
             "LEFT JOIN sluice.owners o ON o.name = u.name ORDER BY u.name",
             pg::Params(pg::text_array(units))});
    } else {
        // Live: a fresh heartbeat and its session still holds the instance lock.
        steps.push_back(
            {"SELECT (SELECT count(*) FROM sluice.instances i "
             "WHERE i.heartbeat > now() - $1::interval "
             "AND sluice.advisory_holder(i.lock_key) IS NOT NULL), pg_backend_pid()",
             pg::Params(interval(options_.failover_after))});
        steps.push_back(
            {"SELECT u.name, sluice.advisory_holder(sluice.owner_lock_key(u.name)),"
             " o.instance_id, extract(epoch FROM now() - o.heartbeat)::float8 "
             "FROM unnest($1::text[]) AS u(name) LEFT JOIN sluice.owners o ON o.name = u.name "
             "ORDER BY u.name",
             pg::Params(pg::text_array(units))});
    }
    const auto asked = Clock::now();
    auto results = co_await conn.pipeline(std::move(steps), options_.statement_timeout);
    renewed_ = asked;  // the heartbeat ran after this moment: leases last from then on
    ShareInput in;
    in.instance = options_.instance;
    in.owned = stats_.owned;
    in.live_instances = static_cast<int>(std::max<std::int64_t>(1, results[2].int64(0, 0)));
    in.backend_pid = static_cast<int>(results[2].int64(0, 1));
    stats_.live_instances = in.live_instances;
    if (leases()) {
        in.units = leased_units(results[3]);
        co_return in;
    }
    const pg::Result& r = results[3];
    std::vector<int> stale;
    for (int i = 0; i < r.rows(); ++i) {
        UnitView u;
        u.name = std::string(r.text(i, 0));
        if (!r.is_null(i, 1))
            u.holder_pid = static_cast<int>(r.int64(i, 1));
        if (!r.is_null(i, 2))
            u.owner_instance = std::string(r.text(i, 2));
        if (!r.is_null(i, 3))
            u.owner_silent_seconds = std::strtod(std::string(r.text(i, 3)).c_str(), nullptr);
        // Our row, but the lock in another session: either a former session of this instance
        // that the server has not noticed is gone (a network fault), which we end, or — as
        // acquire_owner takes lock and row in one statement — our statements reach different
        // server sessions.
        if (u.owner_instance == options_.instance && u.holder_pid &&
            *u.holder_pid != backend_pid_) {
            if (!former_backends_.contains(*u.holder_pid))
                throw PooledConnection();
            stale.push_back(*u.holder_pid);
        }
        in.units.push_back(std::move(u));
    }
    for (int pid : stale) {
        log::warn("ending a former session of this instance that still holds a unit",
                  {{"backend_pid", pid}});
        co_await conn.query("SELECT pg_terminate_backend($1)", pg::Params(pid),
                            options_.statement_timeout);
    }
    co_return in;
}

std::vector<UnitView> Coordinator::leased_units(const pg::Result& r) const {
    std::vector<UnitView> out;
    for (int i = 0; i < r.rows(); ++i) {
        UnitView u;
        u.name = std::string(r.text(i, 0));
        if (!r.is_null(i, 1)) {
            u.owner_instance = std::string(r.text(i, 1));
            u.owner_silent_seconds = std::strtod(std::string(r.text(i, 2)).c_str(), nullptr);
            const bool live = *u.owner_silent_seconds * 1000.0 <
                              static_cast<double>(options_.failover_after.count());
            // Ours only with the token we took it with: a row of this instance with another
            // token was taken again since, and the runners present the old one.
            auto ours = owners_.find(u.name);
            const bool here =
                u.owner_instance == options_.instance &&
                (ours == owners_.end() ||
                 ours->second == store::lease_owner(options_.instance, r.int64(i, 3)));
            if (live)
                u.holder_pid = here ? lease_held_here : lease_held_elsewhere;
        }
        out.push_back(std::move(u));
    }
    return out;
}

asio::awaitable<bool> Coordinator::acquire(pg::AsyncConnection& conn, const std::string& name) {
    if (leases()) {
        auto r =
            co_await conn.query("SELECT sluice.acquire_lease($1, $2, $3, $4::int, $5::interval)",
                                pg::Params(name, options_.instance, options_.host, options_.pid,
                                           interval(options_.failover_after)),
                                options_.statement_timeout);
        if (r.is_null(0, 0))
            co_return false;
        owners_[name] = store::lease_owner(options_.instance, r.int64(0, 0));
        co_return true;
    }
    auto r = co_await conn.query("SELECT sluice.acquire_owner($1, $2, $3, $4::int)",
                                 pg::Params(name, options_.instance, options_.host, options_.pid),
                                 options_.statement_timeout);
    if (!r.boolean(0, 0))
        co_return false;
    owners_[name] = options_.instance;
    co_return true;
}

asio::awaitable<void> Coordinator::act(pg::AsyncConnection& conn, const Decision& d) {
    std::set<std::string> owned = stats_.owned;
    std::vector<std::string> let_go;
    for (const auto& name : d.lost) {
        log::warn("lost ownership: another instance may own it now", {{"name", name}});
        let_go.push_back(name);
    }
    for (const auto& name : work_.handed_over()) {
        if (owned.contains(name))
            let_go.push_back(name);
    }
    for (const auto& name : d.release)
        let_go.push_back(name);
    bool changed = false;
    for (const auto& name : let_go)
        changed |= owned.erase(name) > 0;
    if (changed) {
        stats_.owned = owned;
        co_await hand_to_work();  // runners drain before their locks go
    }
    for (const auto& name : let_go) {
        owners_.erase(name);
        co_await conn.query("SELECT sluice.release_owner($1, $2)",
                            pg::Params(name, options_.instance), options_.statement_timeout);
        ++stats_.releases;
        log::info("released ownership", {{"name", name}});
    }
    for (std::size_t i = 0; i < d.terminate.size(); ++i) {
        log::warn("owner silent for longer than failover_after; ending its session",
                  {{"name", d.silent[i]}, {"backend_pid", d.terminate[i]}});
        co_await conn.query("SELECT pg_terminate_backend($1)", pg::Params(d.terminate[i]),
                            options_.statement_timeout);
    }
    bool acquired = false;
    for (const auto& name : d.acquire) {
        if (stopping_)
            break;
        if (!co_await acquire(conn, name))
            continue;  // another instance was faster
        owned.insert(name);
        acquired = true;
        ++stats_.takeovers;
        log::info("took ownership", {{"name", name}, {"instance", options_.instance}});
    }
    if (acquired) {
        stats_.owned = owned;
        co_await hand_to_work();
    }
}

asio::awaitable<void> Coordinator::release_everything(pg::AsyncConnection& conn) {
    auto owned = stats_.owned;
    stats_.owned.clear();
    owners_.clear();
    co_await work_.own({});
    for (const auto& name : owned) {
        co_await conn.query("SELECT sluice.release_owner($1, $2)",
                            pg::Params(name, options_.instance), options_.statement_timeout);
        log::info("released ownership", {{"name", name}});
    }
    co_await conn.query("DELETE FROM sluice.instances WHERE instance_id = $1",
                        pg::Params(options_.instance), options_.statement_timeout);
    if (!leases())
        co_await conn.query("SELECT pg_advisory_unlock_all()", {}, options_.statement_timeout);
}

}  // namespace sluice::engine
