// A projection as the runner sees it: which events it wants (those with a handler, of the
// configured aggregate types) and the one statement that applies a batch of them.
// Error policy: prepare() throws pg::Error when setup SQL or the apply function fail.
#pragma once

#include <set>

#include "config/config.hpp"
#include "projections/apply_function.hpp"
#include "tailer/sink.hpp"

namespace sluice::projections {

class ProjectionSink final : public tailer::Sink {
  public:
    ProjectionSink(config::Projection projection, std::string quoted_events_table,
                   std::chrono::milliseconds statement_timeout);

    [[nodiscard]] const std::string& name() const override { return projection_.name; }
    [[nodiscard]] std::string_view kind() const override { return "projection"; }
    [[nodiscard]] const config::OnError& on_error() const override { return projection_.on_error; }
    boost::asio::awaitable<void> prepare(pg::AsyncConnection& conn) override;
    [[nodiscard]] bool wants(const tailer::EventRow& event) const override;
    [[nodiscard]] std::vector<pg::Step> apply_steps(
        const std::vector<const tailer::EventRow*>& events) const override;
    [[nodiscard]] std::optional<pg::Step> catch_up_step(const tailer::Position& from,
                                                        int limit) const override;

  private:
    config::Projection projection_;
    ApplyFunction function_;
    std::set<std::string, std::less<>> event_types_;
    std::set<std::string, std::less<>> aggregate_types_;
    std::chrono::milliseconds statement_timeout_;
};

}  // namespace sluice::projections
