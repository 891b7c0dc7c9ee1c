// Before a consumer reads through the upcasters: each `when:` and `payload:` is checked against
// the events table (it parses, and is boolean or jsonb), then the upcast function is installed.
// Error policy: std::runtime_error naming the upcaster, the key and its file:line:column when an
// expression does not fit; pg::Error when the database fails otherwise.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "engine/upcast.hpp"
#include "infra/pg/async_connection.hpp"
#include "infra/pg/connection.hpp"

namespace sluice::engine {

boost::asio::awaitable<void> install_upcast(pg::AsyncConnection& conn, const Upcast& upcast,
                                            std::chrono::milliseconds timeout);

// The same checks on a blocking connection, inside the caller's transaction (each in a
// savepoint): every problem, at its place in the file. Installs nothing.
[[nodiscard]] std::vector<config::Diagnostic> check_upcast(pg::Connection& conn,
                                                           const Upcast& upcast);

}  // namespace sluice::engine
