// A webhook's dispatcher: a subscriber like a projection, whose "handler" enqueues one
// sluice.outbox row per matching event (its `filter:` true, its `body:` stored as `data`), in the
// same transaction as its checkpoint update, so a crash can neither lose nor duplicate an enqueue
// (the row is unique per webhook and event). Error policy: as engine::Sink.
#pragma once

#include <set>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "engine/sink.hpp"
#include "engine/upcast.hpp"

namespace sluice::outbox {

class DispatchSink final : public engine::Sink {
  public:
    // `upcast`: filter:, body: and event_types see each event through it.
    DispatchSink(const config::Webhook& webhook, const std::string& quoted_events_table,
                 engine::Upcast upcast = {});

    [[nodiscard]] const std::string& name() const override { return name_; }
    [[nodiscard]] std::string_view kind() const override { return "webhook"; }
    [[nodiscard]] const config::OnError& on_error() const override { return on_error_; }
    // Checks `filter:` and `body:` against the events table (parse, parameters, type); throws
    // std::runtime_error naming the webhook, the key and its place in the config.
    boost::asio::awaitable<void> prepare(pg::AsyncConnection& conn) override;
    [[nodiscard]] bool wants(const engine::EventRow& event) const override;
    [[nodiscard]] std::vector<pg::Step> apply_steps(
        const std::vector<const engine::EventRow*>& events) const override;

  private:
    std::string name_;
    engine::Upcast upcast_;
    std::set<std::string, std::less<>> event_types_;  // stored types that may be one of them
    std::set<std::string, std::less<>> aggregate_types_;
    std::string insert_sql_;
    // `filter:` and `body:` as configured, each with the query that checks its type.
    struct Checked {
        std::string_view key;
        std::string type_sql;
        config::Location location;
    };
    std::vector<Checked> expressions_;
    config::OnError on_error_;
    std::chrono::milliseconds statement_timeout_{30000};
};

}  // namespace sluice::outbox
