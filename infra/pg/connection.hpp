// A blocking PostgreSQL connection, for the command-line tools (migrate, append, status) and
// for tests. Never used on the daemon's event loop: the daemon uses AsyncConnection.
// Error policy (infra/pg/error.hpp): a failed connect throws ConnectionLost, a refused
// statement ServerError with its SQLSTATE, a broken connection ConnectionLost.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "infra/pg/error.hpp"
#include "infra/pg/params.hpp"
#include "infra/pg/pooling.hpp"
#include "infra/pg/result.hpp"

namespace sluice::pg {

struct ConnDeleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
using ConnHandle = std::unique_ptr<PGconn, ConnDeleter>;

// A libpq message on one line that keeps its structure: each line (libpq puts a hint on its own,
// tab-indented line) becomes a clause joined by "; "; blanks within a line collapse to one.
[[nodiscard]] std::string one_line(const std::string& libpq_message);

// Removes the password from a libpq URL or key=value string, for messages.
[[nodiscard]] std::string redact_url(const std::string& url);

// Settings of the server session, applied on connect to every connection that is given them.
// application_name travels as a startup parameter (a PgBouncer tracks it and sets it on whichever
// server session serves each transaction); the others as one SET script right after connecting,
// because a PgBouncer rejects (or, with ignore_startup_parameters, silently drops) the `options`
// startup parameter that would otherwise carry them. Behind a transaction-mode pool a session
// SET reaches one server session only (and stays there for the pool's next client), so with
// Pooling::transaction they are set per transaction instead (set_config(..., true)).
enum class Jit { server_default, on, off };

struct SessionOptions {
    // Not an aggregate on purpose: GCC 12 copies an aggregate temporary that lives across a
    // co_await bitwise, and a short std::string inside then frees a pointer into the frame.
    SessionOptions() = default;
    SessionOptions(const char* application_name) : application_name(application_name) {}
    SessionOptions(std::string application_name,
                   std::optional<std::chrono::milliseconds> statement_timeout = std::nullopt,
                   Jit jit = Jit::server_default)
        : application_name(std::move(application_name)),
          statement_timeout(statement_timeout),
          jit(jit) {}
    SessionOptions(std::string application_name,
                   std::optional<std::chrono::milliseconds> statement_timeout, Pooling pooling,
                   Jit jit = Jit::server_default)
        : application_name(std::move(application_name)),
          statement_timeout(statement_timeout),
          jit(jit),
          pooling(pooling) {}

    std::string application_name = "sluice";
    // The server cancels a statement running longer (SQLSTATE 57014); nullopt: server default.
    std::optional<std::chrono::milliseconds> statement_timeout;
    // off: no JIT compilation (it costs more than it saves on short, frequent statements).
    Jit jit = Jit::server_default;
    // transaction: the settings go first in every transaction instead (AsyncConnection).
    Pooling pooling = Pooling::session;
};

// The SET script that applies `session` ("" when nothing but application_name is set). Pure.
[[nodiscard]] std::string session_sql(const SessionOptions& session);
// The same settings as one statement that applies them to the current transaction only
// (set_config(..., true)), for Pooling::transaction; "" when there is nothing to set. Pure.
[[nodiscard]] std::string transaction_settings_sql(const SessionOptions& session);

class Connection {
  public:
    // Connects with a connect_timeout (seconds) unless the URL sets one, then applies `session`.
    [[nodiscard]] static Connection open(const std::string& url, int connect_timeout_s = 10,
                                         const SessionOptions& session = {});

    // Runs one statement with bound parameters; throws on any error status.
    Result exec(const std::string& sql, const Params& params = {});
    // Runs one or several statements without parameters (migrations, setup SQL).
    void exec_script(const std::string& sql);

    [[nodiscard]] PGconn* get() const { return conn_.get(); }

  private:
    explicit Connection(ConnHandle c) : conn_(std::move(c)) {}
    ConnHandle conn_;
};

// A transaction that rolls back in its destructor unless committed.
class Transaction {
  public:
    explicit Transaction(Connection& c);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    void commit();

  private:
    Connection& conn_;
    bool done_ = false;
};

// What libpq says about a failed result or connection: the primary message and its DETAIL on
// one line, and the SQLSTATE when the server sent one.
[[nodiscard]] Diagnostic diagnostic_from(PGconn* conn, const PGresult* result);
// "cannot connect to PostgreSQL at URL (password redacted): why".
[[nodiscard]] std::string connect_failure(const std::string& url, PGconn* conn);

}  // namespace sluice::pg
