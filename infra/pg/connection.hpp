// A blocking PostgreSQL connection, for the command-line tools (migrate, append, status) and
// for tests. Never used on the daemon's event loop: the daemon uses AsyncConnection.
// Error policy: every failure throws pg::Error with the server's SQLSTATE when there is one.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "infra/pg/error.hpp"
#include "infra/pg/params.hpp"
#include "infra/pg/result.hpp"

namespace sluice::pg {

struct ConnDeleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
using ConnHandle = std::unique_ptr<PGconn, ConnDeleter>;

// Removes the password from a libpq URL or key=value string, for messages.
[[nodiscard]] std::string redact_url(const std::string& url);

class Connection {
  public:
    // Connects with a connect_timeout (seconds) unless the URL sets one.
    [[nodiscard]] static Connection open(const std::string& url, int connect_timeout_s = 10,
                                         const std::string& application_name = "sluice");

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

// Builds a pg::Error from a failed result or connection (message without the trailing newline).
[[nodiscard]] Error error_from(PGconn* conn, const PGresult* result);

}  // namespace sluice::pg
