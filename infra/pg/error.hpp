// PostgreSQL client errors.
// Error policy: every failure of the client (Connection, AsyncConnection) throws exactly one of
// three types, all derived from pg::Error; catch pg::Error to treat them alike, or the type that
// says what the caller can do about it:
//   ConnectionLost  the connection could not be made or is gone (socket closed, the server ended
//                   the session, too many connections). Reconnect; nothing in flight committed
//                   unless its COMMIT was acknowledged.
//   Timeout         a client-side deadline passed (connect, query, pipeline). The connection is
//                   left unusable; reconnect.
//   ServerError     the server refused a statement and said why: sqlstate() is never empty and
//                   the connection stays usable (the failed transaction is rolled back).
// The messages are one line, as the server or libpq wrote them; they never contain passwords.
// Meanings of sluice's own SQLSTATEs (class SL) belong to the layer that raises them (store/).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::pg {

class Error : public std::runtime_error {
  protected:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

class ConnectionLost : public Error {
  public:
    explicit ConnectionLost(const std::string& message, std::string sqlstate = {})
        : Error(message), sqlstate_(std::move(sqlstate)) {}
    // What the server said when it ended the session (57P01 ...), empty when it said nothing.
    [[nodiscard]] const std::string& sqlstate() const { return sqlstate_; }

  private:
    std::string sqlstate_;
};

class Timeout : public Error {
  public:
    explicit Timeout(const std::string& message) : Error(message) {}
};

class ServerError : public Error {
  public:
    // sqlstate: five characters, never empty.
    ServerError(const std::string& message, std::string sqlstate)
        : Error(message), sqlstate_(std::move(sqlstate)) {}
    [[nodiscard]] const std::string& sqlstate() const { return sqlstate_; }

  private:
    std::string sqlstate_;
};

// A failure as libpq reports it: a one-line message and the SQLSTATE when the server sent one.
struct Diagnostic {
    std::string message;
    std::string sqlstate;
};

// True when a failure with this SQLSTATE means the session is over: no SQLSTATE (a client-side
// failure), class 08 (connection exception), 57P01..57P03 (shutdown, crash, cannot connect now)
// or 53300 (too many connections). Pure.
[[nodiscard]] bool ends_session(std::string_view sqlstate);

// Throws the type the diagnostic calls for: ConnectionLost when ends_session(), else
// ServerError. The one place that tells a broken connection from a refused statement.
[[noreturn]] void throw_error(Diagnostic d);

// The SQLSTATE of a ServerError or ConnectionLost, empty for anything else (for messages and
// status, not for decisions: decide on the type).
[[nodiscard]] std::string sqlstate_of(const std::exception& e);

}  // namespace sluice::pg
