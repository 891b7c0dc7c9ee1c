#include "infra/pg/async_connection.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::pg {
namespace {

using namespace asio::experimental::awaitable_operators;
using asio::use_awaitable;
using Wait = asio::posix::stream_descriptor::wait_type;

Timeout timeout_error(const char* what) {
    return Timeout(std::string(what) + " timed out");
}

// Waits for `type` readiness on `sd` until `deadline`; false on timeout.
asio::awaitable<bool> wait_until(asio::posix::stream_descriptor& sd, Wait type,
                                 Clock::time_point deadline) {
    asio::steady_timer timer(sd.get_executor(), deadline);
    auto which = co_await (sd.async_wait(type, use_awaitable) || timer.async_wait(use_awaitable));
    co_return which.index() == 0;
}

// Asio's view of a descriptor that libpq owns: released, never closed, when it goes.
struct BorrowedSocket {
    BorrowedSocket(asio::any_io_executor ex, int fd) : sd(std::move(ex), fd) {}
    BorrowedSocket(const BorrowedSocket&) = delete;
    BorrowedSocket& operator=(const BorrowedSocket&) = delete;
    ~BorrowedSocket() {
        if (sd.is_open())
            sd.release();
    }
    asio::posix::stream_descriptor sd;
};

}  // namespace

AsyncConnection::AsyncConnection(ConnHandle conn, asio::posix::stream_descriptor socket)
    : conn_(std::move(conn)),
      socket_(std::make_unique<asio::posix::stream_descriptor>(std::move(socket))) {}

AsyncConnection::~AsyncConnection() {
    release_socket();
}

void AsyncConnection::fail(Diagnostic d) {
    if (ends_session(d.sqlstate))
        broken_ = true;
    throw_error(std::move(d));
}

void AsyncConnection::release_socket() {
    // libpq owns the fd: stop Asio from closing it, PQfinish does that.
    if (socket_ && socket_->is_open())
        socket_->release();
}

bool AsyncConnection::is_usable() const {
    return conn_ && !broken_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

asio::awaitable<AsyncConnection> AsyncConnection::connect(asio::any_io_executor ex, std::string url,
                                                          std::chrono::milliseconds timeout,
                                                          SessionOptions session) {
    auto deadline = Clock::now() + timeout;
    // The deadline bounds the connect: no connect_timeout.
    const char* keys[] = {"application_name", "dbname", nullptr};
    const char* values[] = {session.application_name.c_str(), url.c_str(), nullptr};
    ConnHandle conn(PQconnectStartParams(keys, values, 1));
    if (!conn)
        throw ConnectionLost("out of memory while connecting to PostgreSQL");
    if (PQstatus(conn.get()) == CONNECTION_BAD)
        throw ConnectionLost(connect_failure(url, conn.get()));
    // The socket can change between polls (several hosts, SSL fallback): wrap it per wait.
    PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
    while (poll != PGRES_POLLING_OK) {
        if (poll == PGRES_POLLING_FAILED)
            throw ConnectionLost(connect_failure(url, conn.get()));
        BorrowedSocket borrowed(ex, PQsocket(conn.get()));
        bool ready = co_await wait_until(
            borrowed.sd, poll == PGRES_POLLING_READING ? Wait::wait_read : Wait::wait_write,
            deadline);
        if (!ready)
            throw Timeout("connecting to PostgreSQL at " + redact_url(url) + " timed out");
        poll = PQconnectPoll(conn.get());
    }
    if (PQsetnonblocking(conn.get(), 1) != 0)
        throw_error(diagnostic_from(conn.get(), nullptr));
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);
    asio::posix::stream_descriptor socket(ex, PQsocket(conn.get()));
    AsyncConnection c(std::move(conn), std::move(socket));
    if (session.pooling == Pooling::transaction) {
        c.pooled_ = std::make_unique<Pooled>(Pooled{transaction_settings_sql(session), {}});
        co_return c;
    }
    std::string settings = session_sql(session);
    if (!settings.empty()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        co_await c.exec_script(std::move(settings), std::max(left, std::chrono::milliseconds(1)));
    }
    co_return c;
}

asio::awaitable<void> AsyncConnection::wait_readable(Clock::time_point deadline) {
    bool ready = co_await wait_until(*socket_, Wait::wait_read, deadline);
    if (!ready) {
        broken_ = true;
        throw timeout_error("waiting for PostgreSQL");
    }
}

asio::awaitable<void> AsyncConnection::flush(Clock::time_point deadline) {
    while (true) {
        int rc = PQflush(conn_.get());
        if (rc == 0)
            co_return;
        if (rc < 0) {
            broken_ = true;
            throw_error(diagnostic_from(conn_.get(), nullptr));
        }
        // Output is pending: wait until we can write, reading meanwhile so the server never
        // blocks on a full output buffer while we block on ours.
        asio::steady_timer timer(socket_->get_executor(), deadline);
        auto which = co_await (socket_->async_wait(Wait::wait_write, use_awaitable) ||
                               socket_->async_wait(Wait::wait_read, use_awaitable) ||
                               timer.async_wait(use_awaitable));
        if (which.index() == 2) {
            broken_ = true;
            throw timeout_error("sending to PostgreSQL");
        }
        if (which.index() == 1 && PQconsumeInput(conn_.get()) == 0) {
            broken_ = true;
            throw_error(diagnostic_from(conn_.get(), nullptr));
        }
    }
}

asio::awaitable<Result> AsyncConnection::next_result(Clock::time_point deadline) {
    while (PQisBusy(conn_.get())) {
        co_await wait_readable(deadline);
        if (PQconsumeInput(conn_.get()) == 0) {
            broken_ = true;
            throw_error(diagnostic_from(conn_.get(), nullptr));
        }
    }
    co_return Result(PQgetResult(conn_.get()));
}

// Reads results until the end of the current query; throws the first error.
asio::awaitable<void> AsyncConnection::drain(Clock::time_point deadline) {
    std::optional<Diagnostic> first;
    while (true) {
        Result r = co_await next_result(deadline);
        if (!r)
            break;
        auto st = r.status();
        if ((st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) && !first) {
            first = diagnostic_from(conn_.get(), r.get());
        }
    }
    if (first)
        fail(std::move(*first));
}

asio::awaitable<Result> AsyncConnection::query(std::string sql, Params params,
                                               std::chrono::milliseconds timeout) {
    if (pooled_ && !pooled_->settings.empty()) {
        // The settings and the statement in one implicit transaction, one round trip.
        std::vector<Step> steps;
        steps.push_back({std::move(sql), std::move(params)});
        auto results = co_await pipeline(std::move(steps), timeout);
        co_return std::move(results.back());
    }
    auto deadline = Clock::now() + timeout;
    auto ptrs = params.pointers();
    const std::string* name = co_await cached(sql, deadline);
    int sent = name ? PQsendQueryPrepared(conn_.get(), name->c_str(), static_cast<int>(ptrs.size()),
                                          ptrs.data(), nullptr, nullptr, 0)
                    : PQsendQueryParams(conn_.get(), sql.c_str(), static_cast<int>(ptrs.size()),
                                        nullptr, ptrs.data(), nullptr, nullptr, 0);
    if (sent == 0) {
        broken_ = true;
        throw_error(diagnostic_from(conn_.get(), nullptr));
    }
    co_await flush(deadline);
    Result out;
    std::optional<Diagnostic> first;
    while (true) {
        Result r = co_await next_result(deadline);
        if (!r)
            break;
        auto st = r.status();
        if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
            if (!first)
                first = diagnostic_from(conn_.get(), r.get());
        } else {
            out = std::move(r);
        }
    }
    if (first)
        fail(std::move(*first));
    co_return out;
}

asio::awaitable<void> AsyncConnection::exec_script(std::string sql,
                                                   std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    if (pooled_ && !pooled_->settings.empty())
        sql = pooled_->settings + ";\n" + sql;  // one implicit transaction: they apply
    if (PQsendQuery(conn_.get(), sql.c_str()) == 0) {
        broken_ = true;
        throw_error(diagnostic_from(conn_.get(), nullptr));
    }
    co_await flush(deadline);
    co_await drain(deadline);
}

asio::awaitable<void> AsyncConnection::prepare(std::string name, std::string sql,
                                               std::chrono::milliseconds timeout) {
    if (pooled_) {
        pooled_->named[std::move(name)] = std::move(sql);
        co_return;
    }
    auto deadline = Clock::now() + timeout;
    if (PQsendPrepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr) == 0) {
        broken_ = true;
        throw_error(diagnostic_from(conn_.get(), nullptr));
    }
    co_await flush(deadline);
    co_await drain(deadline);
}

bool AsyncConnection::for_the_pool(std::vector<Step>& steps) const {
    if (!pooled_)
        return false;
    for (Step& s : steps) {
        if (!s.prepared)
            continue;
        auto it = pooled_->named.find(s.sql_or_name);
        if (it == pooled_->named.end())
            throw std::logic_error("statement " + s.sql_or_name + " was never prepared");
        s.sql_or_name = it->second;
        s.prepared = false;
    }
    if (pooled_->settings.empty())
        return false;
    steps.insert(steps.begin(), Step{pooled_->settings, {}});
    return true;
}

asio::awaitable<const std::string*> AsyncConnection::cached(const std::string& sql,
                                                            Clock::time_point deadline) {
    if (pooled_)
        co_return nullptr;
    if (auto it = statements_.find(sql); it != statements_.end())
        co_return &it->second;
    if (statements_.size() >= statement_capacity_)
        co_return nullptr;
    std::string name = "sluice_s" + std::to_string(statements_.size() + 1);
    if (PQsendPrepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr) == 0) {
        broken_ = true;
        throw_error(diagnostic_from(conn_.get(), nullptr));
    }
    co_await flush(deadline);
    co_await drain(deadline);
    co_return &statements_.emplace(sql, std::move(name)).first->second;
}

asio::awaitable<std::vector<Result>> AsyncConnection::pipeline(std::vector<Step> steps,
                                                               std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    PGconn* c = conn_.get();
    const bool settings_first = for_the_pool(steps);
    for (Step& s : steps) {
        if (s.prepared)
            continue;
        if (const std::string* name = co_await cached(s.sql_or_name, deadline)) {
            s.sql_or_name = *name;
            s.prepared = true;
        }
    }
    if (PQenterPipelineMode(c) == 0) {
        broken_ = true;
        throw_error(diagnostic_from(c, nullptr));
    }
    for (const Step& s : steps) {
        auto ptrs = s.params.pointers();
        int ok = s.prepared
                     ? PQsendQueryPrepared(c, s.sql_or_name.c_str(), static_cast<int>(ptrs.size()),
                                           ptrs.data(), nullptr, nullptr, 0)
                     : PQsendQueryParams(c, s.sql_or_name.c_str(), static_cast<int>(ptrs.size()),
                                         nullptr, ptrs.data(), nullptr, nullptr, 0);
        if (ok == 0) {
            broken_ = true;
            throw_error(diagnostic_from(c, nullptr));
        }
    }
    if (PQpipelineSync(c) == 0) {
        broken_ = true;
        throw_error(diagnostic_from(c, nullptr));
    }
    co_await flush(deadline);

    std::vector<Result> out;
    out.reserve(steps.size());
    std::optional<Diagnostic> first;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        Result kept;
        while (true) {
            Result r = co_await next_result(deadline);
            if (!r)
                break;
            auto st = r.status();
            if ((st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) && !first) {
                first = diagnostic_from(c, r.get());
            } else if (st != PGRES_PIPELINE_ABORTED) {
                kept = std::move(r);
            }
        }
        out.push_back(std::move(kept));
    }
    Result sync = co_await next_result(deadline);
    if (!sync || sync.status() != PGRES_PIPELINE_SYNC) {
        broken_ = true;
        throw ConnectionLost("PostgreSQL pipeline out of step: expected the sync result");
    }
    if (PQexitPipelineMode(c) == 0) {
        broken_ = true;
        throw_error(diagnostic_from(c, nullptr));
    }
    if (first)
        fail(std::move(*first));
    if (settings_first)
        out.erase(out.begin());
    co_return out;
}

asio::awaitable<std::vector<Notification>> AsyncConnection::wait_notifications(
    std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::vector<Notification> out;
    auto collect = [&] {
        while (PGnotify* n = PQnotifies(conn_.get())) {
            out.push_back({n->relname, n->extra ? n->extra : "", n->be_pid});
            PQfreemem(n);
        }
    };
    if (PQconsumeInput(conn_.get()) == 0) {
        broken_ = true;
        throw_error(diagnostic_from(conn_.get(), nullptr));
    }
    collect();
    while (out.empty()) {
        bool ready = co_await wait_until(*socket_, Wait::wait_read, deadline);
        if (!ready)
            co_return out;
        if (PQconsumeInput(conn_.get()) == 0) {
            broken_ = true;
            throw_error(diagnostic_from(conn_.get(), nullptr));
        }
        collect();
    }
    co_return out;
}

}  // namespace sluice::pg
