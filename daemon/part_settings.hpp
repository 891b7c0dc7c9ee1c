// What each part of the daemon is given from the config, and what reload compares to decide
// whether the publisher restarts. Pure apart from the instance id (host, pid, a random suffix).
#pragma once

#include <exception>

#include "config/config.hpp"
#include "engine/coordinator.hpp"
#include "engine/feed.hpp"

namespace sluice::daemon {

[[nodiscard]] engine::CoordinatorOptions coordination_options(const config::Config& c);
[[nodiscard]] engine::FeedOptions feed_options(const config::Config& c);
// Whether the publisher must restart: every outbox setting and every field of every webhook
// (in order), except where a webhook is written in the file.
[[nodiscard]] bool same_delivery(const config::Config& a, const config::Config& b);
// Completion of a task that should not throw: an escaped exception is logged, contained.
void log_task_failure(const char* task, const std::exception_ptr& e);

}  // namespace sluice::daemon
