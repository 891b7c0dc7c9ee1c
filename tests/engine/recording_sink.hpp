// A test engine::Sink: one statement per batch that records the events it applies, in the
// order the runner hands them over, in table `applied (sink, event_id, seq)`; the statement
// fails (division by zero, SQLSTATE 22012) when the batch holds an event id listed as failing.
// The probe is shared with the test, which reads what the runner asked of the sink.
// Threading: event-loop thread (the runner) and the test thread, never at once: the test reads
// the probe only between runs of the io_context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/sink.hpp"

namespace sluice::testing {

// Creates `applied`; run once per database before the runners start.
inline const char* applied_table_sql =
    "CREATE TABLE applied (sink text NOT NULL, event_id bigint NOT NULL, "
    "seq bigserial NOT NULL, PRIMARY KEY (sink, event_id))";

struct SinkProbe {
    std::set<std::int64_t> failing;        // event ids whose batch statement fails
    std::vector<std::size_t> batch_sizes;  // events per apply_steps() call, in call order
};

class RecordingSink : public engine::Sink {
  public:
    RecordingSink(std::string name, config::OnError on_error, std::shared_ptr<SinkProbe> probe)
        : name_(std::move(name)), on_error_(on_error), probe_(std::move(probe)) {}

    [[nodiscard]] const std::string& name() const override { return name_; }
    [[nodiscard]] std::string_view kind() const override { return "projection"; }
    [[nodiscard]] const config::OnError& on_error() const override { return on_error_; }
    boost::asio::awaitable<void> prepare(pg::AsyncConnection& /*conn*/) override { co_return; }
    [[nodiscard]] bool wants(const engine::EventRow& /*event*/) const override { return true; }
    [[nodiscard]] std::vector<pg::Step> apply_steps(
        const std::vector<const engine::EventRow*>& events) const override;

  private:
    std::string name_;
    config::OnError on_error_;
    std::shared_ptr<SinkProbe> probe_;
};

}  // namespace sluice::testing
