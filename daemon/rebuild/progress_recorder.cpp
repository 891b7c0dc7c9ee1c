#include "daemon/rebuild/progress_recorder.hpp"

#include <unistd.h>

#include <algorithm>

#include "store/rebuilds.hpp"

namespace sluice::daemon {

ProgressRecorder::ProgressRecorder(pg::Connection& conn, const config::Projection& projection,
                                   const BlueGreenOptions& options, std::string label,
                                   std::int64_t done_before, std::int64_t total)
    : conn_(conn),
      projection_(projection),
      options_(options),
      done_before_(done_before),
      total_(total) {
    if (options.progress_bar)
        bar_.emplace(std::move(label), isatty(STDERR_FILENO) != 0);
}

void ProgressRecorder::batch(std::int64_t events, bool final) {
    const std::int64_t done = done_before_ + events;
    total_ = std::max(total_, done);
    if (bar_)
        bar_->update(done, total_, final);
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - recorded_ < std::chrono::seconds(1))
        return;
    recorded_ = now;
    conn_.exec(store::rebuild_progress_sql,
               pg::Params(projection_.name, std::to_string(done), std::to_string(total_)));
    if (!options_.hooks.owner.empty()) {
        conn_.exec(
            "UPDATE sluice.owners SET heartbeat = now() WHERE name = $1 AND instance_id = $2",
            pg::Params(store::rebuild_unit(projection_.name), options_.instance));
    }
}

}  // namespace sluice::daemon
