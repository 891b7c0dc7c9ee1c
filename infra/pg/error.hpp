// PostgreSQL errors. Error policy: libpq failures are thrown as pg::Error, which keeps the
// SQLSTATE (empty when the failure is client-side, e.g. a lost connection) so callers can tell
// a broken connection (retry elsewhere) from a failing statement (a handler error).
#pragma once

#include <stdexcept>
#include <string>

namespace sluice::pg {

class Error : public std::runtime_error {
  public:
    Error(std::string message, std::string sqlstate = {})
        : std::runtime_error(std::move(message)), sqlstate_(std::move(sqlstate)) {}

    [[nodiscard]] const std::string& sqlstate() const { return sqlstate_; }

    // True when the connection itself is gone or unusable: no SQLSTATE, class 08 (connection
    // exception), 57P0x (admin/crash shutdown) or 53300 (too many connections).
    [[nodiscard]] bool is_connection_error() const;

  private:
    std::string sqlstate_;
};

// SQLSTATE raised by sluice.advance_checkpoint when the stored position is not the expected one.
inline constexpr const char* checkpoint_moved_sqlstate = "SL001";
// SQLSTATE raised by sluice.begin_batch when another session (a rebuild) holds the subscriber.
inline constexpr const char* subscriber_busy_sqlstate = "SL002";
// This instance no longer owns the subscriber (another instance took it over).
inline constexpr const char* owner_lost_sqlstate = "SL003";

}  // namespace sluice::pg
