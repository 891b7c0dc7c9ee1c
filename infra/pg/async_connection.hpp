// A non-blocking PostgreSQL connection driven from Boost.Asio: libpq's socket is wrapped in a
// stream_descriptor and every wait is `co_await async_wait` with a deadline. Nothing here blocks
// the event loop. One operation at a time per connection (not thread-safe; use from one strand).
// Error policy (infra/pg/error.hpp): a refused statement throws ServerError and the connection
// stays usable; a deadline that passes throws Timeout and a broken connection ConnectionLost,
// and both leave it unusable (is_usable() == false): drop it and connect again.
// With Pooling::transaction (infra/pg/connection.hpp) it keeps nothing in the server session:
// the settings go first in every transaction, prepare() and cache_statements() keep the SQL text
// here and run it as an unnamed statement, so any server session of the pool can serve it.
#pragma once

#include <libpq-fe.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "infra/pg/connection.hpp"
#include "infra/pg/error.hpp"
#include "infra/pg/params.hpp"
#include "infra/pg/result.hpp"

namespace sluice::pg {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// One statement of a pipeline: either a prepared statement name or SQL text with parameters.
struct Step {
    std::string sql_or_name;
    Params params;
    bool prepared = false;  // true: sql_or_name names a statement prepared on this connection
};

struct Notification {
    std::string channel;
    std::string payload;
    int backend_pid = 0;
};

class AsyncConnection {
  public:
    AsyncConnection(AsyncConnection&&) noexcept = default;
    AsyncConnection& operator=(AsyncConnection&&) noexcept = default;
    ~AsyncConnection();

    // Connects within `timeout`, applying `session` (infra/pg/connection.hpp) before returning.
    [[nodiscard]] static asio::awaitable<AsyncConnection> connect(asio::any_io_executor ex,
                                                                  std::string url,
                                                                  std::chrono::milliseconds timeout,
                                                                  SessionOptions session = {});

    // One statement with bound parameters; returns its (single) result. Throws on error.
    asio::awaitable<Result> query(std::string sql, Params params = {},
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // Several statements without parameters in one round trip (simple protocol).
    asio::awaitable<void> exec_script(std::string sql,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
    // Prepares a named statement once on this connection (through a transaction-mode pool:
    // remembers its text under `name`; each use parses it anew).
    asio::awaitable<void> prepare(std::string name, std::string sql,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // Sends every step in pipeline mode followed by one Sync, so all of them run in one implicit
    // transaction (unless the steps contain BEGIN/COMMIT) and cost one round trip. Returns one
    // Result per step. On the first failing step the remaining ones are skipped by the server,
    // the implicit transaction is rolled back, and the failing step's pg::Error is thrown.
    asio::awaitable<std::vector<Result>> pipeline(
        std::vector<Step> steps, std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // Waits until at least one NOTIFY arrives or the timeout passes; returns what arrived
    // (possibly empty on timeout). Requires a prior LISTEN on this connection.
    asio::awaitable<std::vector<Notification>> wait_notifications(
        std::chrono::milliseconds timeout);

    // From now on each distinct SQL text that query() or pipeline() runs is prepared on first
    // use (one extra round trip, once) and run by name after that, which spares the server
    // parsing and planning it on every call. At most `capacity` statements are kept; later ones
    // run unprepared. Off by default, and never through a transaction-mode pool: a pool's
    // server sessions do not keep a client's statements.
    void cache_statements(std::size_t capacity = 32) {
        if (!pooled_)
            statement_capacity_ = capacity;
    }

    [[nodiscard]] bool is_usable() const;
    [[nodiscard]] PGconn* get() const { return conn_.get(); }
    [[nodiscard]] int backend_pid() const { return PQbackendPID(conn_.get()); }

  private:
    AsyncConnection(ConnHandle conn, asio::posix::stream_descriptor socket);

    asio::awaitable<void> flush(Clock::time_point deadline);
    asio::awaitable<void> wait_readable(Clock::time_point deadline);
    asio::awaitable<Result> next_result(Clock::time_point deadline);  // null Result = end
    asio::awaitable<void> drain(Clock::time_point deadline);
    void release_socket();
    // The prepared name for `sql` when statements are cached (preparing it now if there is
    // room), else nullptr: run the text.
    asio::awaitable<const std::string*> cached(const std::string& sql, Clock::time_point deadline);
    // Throws the error `d` calls for, marking the connection broken when the session is over.
    [[noreturn]] void fail(Diagnostic d);
    // Steps to run: a remembered statement's text in place of its name (transaction pooling),
    // and the per-transaction settings first when there are any (true: drop the first result).
    bool for_the_pool(std::vector<Step>& steps) const;

    // Declared before socket_: the descriptor is released (not closed) before PQfinish.
    ConnHandle conn_;
    std::unique_ptr<asio::posix::stream_descriptor> socket_;
    bool broken_ = false;
    std::unordered_map<std::string, std::string> statements_;  // SQL text -> prepared name
    std::size_t statement_capacity_ = 0;
    // Through a transaction-mode pool, what stands in for session state; null for a session of
    // its own. On the heap: the connection lives in coroutine frames, keep it small.
    struct Pooled {
        std::string settings;                                // as one statement; "" for none
        std::unordered_map<std::string, std::string> named;  // prepare(): name -> SQL text
    };
    std::unique_ptr<Pooled> pooled_;
};

}  // namespace sluice::pg
