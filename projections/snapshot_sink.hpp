// An aggregate type's snapshots (or one part of them) as the runner sees them: it wants the
// events of that type whose version is a multiple of `every`, and one statement takes a
// snapshot at each of them in the batch's transaction, so snapshots are exactly once with the
// checkpoint. prepare() installs the fold function (sluice."fold_<type>", which
// sluice.aggregate_state calls) and the batch step (sluice."snapshot_<fingerprint>", persistent
// so that it works through a transaction pooler) and, when the fold's definition changed since this
// subscriber last ran, puts its checkpoint back to the start: the snapshots are rebuilt, and until
// then loading ignores the old ones (their fingerprint differs) and folds from the first event.
// Error policy: prepare() throws pg::Error when installing fails.
#pragma once

#include "config/config.hpp"
#include "engine/sink.hpp"
#include "projections/fold_function.hpp"
#include "projections/partition.hpp"

namespace sluice::projections {

class SnapshotSink final : public engine::Sink {
  public:
    SnapshotSink(config::Snapshot snapshot, std::string quoted_events_table,
                 std::chrono::milliseconds statement_timeout, Part part = {},
                 engine::Upcast upcast = {});

    [[nodiscard]] const std::string& name() const override { return name_; }
    [[nodiscard]] std::string_view kind() const override { return "snapshot"; }
    [[nodiscard]] const config::OnError& on_error() const override { return snapshot_.on_error; }
    boost::asio::awaitable<void> prepare(pg::AsyncConnection& conn) override;
    [[nodiscard]] bool wants(const engine::EventRow& event) const override;
    [[nodiscard]] std::vector<pg::Step> apply_steps(
        const std::vector<const engine::EventRow*>& events) const override;

  private:
    config::Snapshot snapshot_;
    Part part_;
    std::string name_;
    engine::Upcast upcast_;
    FoldFunction function_;
    std::chrono::milliseconds statement_timeout_;
};

// The subscriber name of an aggregate type's snapshots: "snapshots:Order" (a projection's name
// cannot contain ':'), or "snapshots:Order[2/4]" for a part.
[[nodiscard]] std::string snapshot_subscriber(const std::string& aggregate_type, Part part = {});

}  // namespace sluice::projections
