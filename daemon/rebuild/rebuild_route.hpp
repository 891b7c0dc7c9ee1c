// POST /rebuilds/NAME on the daemon's HTTP endpoint: asks for a blue/green rebuild of projection
// NAME by recording it in sluice.rebuilds (store::request_rebuild_sql), where an instance takes
// it up as the unit NAME@next (rebuild_work.hpp). An admin action: accepted only from a loopback
// peer (403 otherwise); 404 for a projection the daemon's config does not have, 409 for one it
// cannot rebuild beside the live one (no schema:, or partitioned); 202 with
// {"projection","requested","unit"} once recorded (`requested` false: one was pending already).
// Threading: the event loop (a coroutine). Error policy: a database failure propagates (the
// router answers 500 and logs it).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>

#include "config/config.hpp"
#include "infra/http/router.hpp"

namespace sluice::daemon {

inline constexpr std::string_view rebuilds_route = "/rebuilds/";

// `on_requested` runs once the request is recorded.
boost::asio::awaitable<http::Response> answer_rebuild_request(boost::asio::any_io_executor ex,
                                                              const config::Config& config,
                                                              http::Request request,
                                                              std::function<void()> on_requested);

}  // namespace sluice::daemon
