// A webhook's dispatcher: a subscriber like a projection, whose "handler" enqueues one
// sluice.outbox row per matching event, in the same transaction as its checkpoint update, so a
// crash can neither lose nor duplicate an enqueue (the row is unique per webhook and event).
// Error policy: as engine::Sink.
#pragma once

#include <set>

#include "config/config.hpp"
#include "engine/sink.hpp"

namespace sluice::outbox {

class DispatchSink final : public engine::Sink {
  public:
    DispatchSink(const config::Webhook& webhook, const std::string& quoted_events_table);

    [[nodiscard]] const std::string& name() const override { return name_; }
    [[nodiscard]] std::string_view kind() const override { return "webhook"; }
    [[nodiscard]] const config::OnError& on_error() const override { return on_error_; }
    boost::asio::awaitable<void> prepare(pg::AsyncConnection&) override { co_return; }
    [[nodiscard]] bool wants(const engine::EventRow& event) const override;
    [[nodiscard]] std::vector<pg::Step> apply_steps(
        const std::vector<const engine::EventRow*>& events) const override;

  private:
    std::string name_;
    std::set<std::string, std::less<>> event_types_;
    std::set<std::string, std::less<>> aggregate_types_;
    std::string insert_sql_;
    config::OnError on_error_;  // enqueueing fails only on database trouble: keep retrying
};

}  // namespace sluice::outbox
