// A projection (or one part of a partitioned projection) as the runner sees it: which events it
// wants (those with a handler, or whose type an upcaster may rename to one, of the configured
// aggregate types, of its part) and the one statement that applies a batch of them.
// Error policy: prepare() throws pg::Error when setup SQL or the apply function fail, and
// std::runtime_error when stored checkpoints belong to another partitioning (replaying under a
// new split would apply events twice: that takes a rebuild), or when the read model was built
// through other upcasters of the projection's event types than the config's (the events applied
// so far would stay as the old ones made them: that takes a rebuild too), or when the schema it
// owns is missing although it has applied events (`schema:` added to a projection that has run:
// the rebuild builds the read model there).
#pragma once

#include <set>

#include "config/config.hpp"
#include "engine/sink.hpp"
#include "projections/apply_function.hpp"

namespace sluice::projections {

class ProjectionSink final : public engine::Sink {
  public:
    // `checkpoint`: the subscriber name its batches advance (default: the projection's or the
    // part's name); a rebuild's next generation has its own (projections/schema.hpp).
    ProjectionSink(config::Projection projection, std::string quoted_events_table,
                   std::chrono::milliseconds statement_timeout, Part part = {},
                   pg::Pooling pooling = pg::Pooling::session, engine::Upcast upcast = {},
                   std::string checkpoint = {});

    [[nodiscard]] const std::string& name() const override { return name_; }
    [[nodiscard]] std::string_view kind() const override { return "projection"; }
    [[nodiscard]] const config::OnError& on_error() const override { return projection_.on_error; }
    boost::asio::awaitable<void> prepare(pg::AsyncConnection& conn) override;
    [[nodiscard]] bool wants(const engine::EventRow& event) const override;
    [[nodiscard]] std::vector<pg::Step> apply_steps(
        const std::vector<const engine::EventRow*>& events) const override;
    [[nodiscard]] std::optional<pg::Step> catch_up_step(const engine::Position& from, int limit,
                                                        const std::string& owner) const override;

  private:
    // Creates the projection's schema; refuses when it is missing while events were applied.
    boost::asio::awaitable<void> create_schema(pg::AsyncConnection& conn);
    // Refuses a read model built through other upcasters; records them for one not built yet.
    boost::asio::awaitable<void> check_upcasters(pg::AsyncConnection& conn);
    // Every part's name as a text[] literal.
    [[nodiscard]] std::string all_part_names() const;

    config::Projection projection_;
    Part part_;
    std::string name_;
    engine::Upcast upcast_;
    ApplyFunction function_;
    std::string upcasters_fingerprint_;
    std::set<std::string, std::less<>> event_types_;
    std::set<std::string, std::less<>> aggregate_types_;
    std::chrono::milliseconds statement_timeout_;
};

// The fingerprint of the upcasters that may change an event `projection` handles ("" for none),
// as stored in sluice.projection_upcasters.
[[nodiscard]] std::string upcasters_fingerprint(const config::Projection& projection,
                                                const engine::Upcast& upcast);

}  // namespace sluice::projections
