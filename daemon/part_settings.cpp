#include "daemon/part_settings.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "infra/failure/failure.hpp"
#include "infra/log/log.hpp"
#include "infra/pg/literal.hpp"

namespace sluice::daemon {

// Who this process is among the instances sharing the database: host:pid:random (a pid may be
// reused by a later process on the same host; the suffix keeps ids unique).
engine::CoordinatorOptions coordination_options(const config::Config& c) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::random_device random;
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%06x", random() & 0xffffffU);
    engine::CoordinatorOptions o;
    o.url = c.database.url;
    o.host = host;
    o.pid = static_cast<int>(getpid());
    o.instance = o.host + ":" + std::to_string(o.pid) + ":" + suffix;
    o.failover_after = c.coordination.failover_after;
    o.connect_timeout = c.database.connect_timeout;
    o.statement_timeout = c.database.statement_timeout;
    o.pooling = c.database.pooling;
    return o;
}

bool same_delivery(const config::Config& a, const config::Config& b) {
    return a.outbox == b.outbox &&
           std::ranges::equal(a.webhooks, b.webhooks, [](const auto& x, const auto& y) {
               return config::without_location(x) == config::without_location(y);
           });
}

void log_task_failure(const char* task, const std::exception_ptr& e) {
    log::error("task ended with an error", {{"task", task}, {"error", Failure(e).what()}});
}

engine::FeedOptions feed_options(const config::Config& c) {
    return {c.database.url,
            pg::quote_qualified(c.database.events_table),
            c.database.notify_channel,
            c.tailer.batch_size,
            c.database.wake_up_poll(c.tailer.poll_interval),
            c.tailer.horizon_warning,
            c.database.connect_timeout,
            c.database.statement_timeout,
            c.database.pooling,
            c.database.listen_url};
}

}  // namespace sluice::daemon
