// Events as the writer takes them and as the store returns them. Plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace sluice::store {

struct NewEvent {
    std::string event_type;
    std::string payload;                   // JSON text
    std::optional<std::string> metadata;   // JSON text
    std::optional<std::string> timestamp;  // ISO 8601; default: the transaction's start time
};

struct StoredEvent {
    std::int64_t id = 0;
    std::string transaction_id;
    std::string aggregate_id;
    std::string aggregate_type;
    int version = 0;
    std::string event_type;
    std::string payload;
    std::optional<std::string> metadata;
    std::string timestamp;
};

// Someone appended to the aggregate first: the caller should reload and retry.
class VersionConflict : public std::runtime_error {
  public:
    VersionConflict(std::string aggregate_id, int expected, int actual)
        : std::runtime_error("version conflict on aggregate " + aggregate_id +
                             ": expected version " + std::to_string(expected) +
                             ", but it is at version " + std::to_string(actual)),
          aggregate_id_(std::move(aggregate_id)),
          expected_(expected),
          actual_(actual) {}

    [[nodiscard]] const std::string& aggregate_id() const { return aggregate_id_; }
    [[nodiscard]] int expected() const { return expected_; }
    [[nodiscard]] int actual() const { return actual_; }

  private:
    std::string aggregate_id_;
    int expected_;
    int actual_;
};

// The aggregate is already in the log under another aggregate type: an id names one aggregate,
// and one aggregate has one type. Bad input, found only once the log is read.
class AggregateTypeMismatch : public std::invalid_argument {
  public:
    AggregateTypeMismatch(const std::string& aggregate_id, const std::string& stored,
                          const std::string& given)
        : std::invalid_argument("aggregate " + aggregate_id + " is of type " + stored +
                                " in the log, not " + given) {}
};

// Pure validation helpers shared by the writer and the CLI.
[[nodiscard]] bool is_uuid(const std::string& text);
// Returns an error message, or empty when `text` is valid JSON.
[[nodiscard]] std::string json_error(const std::string& text);

}  // namespace sluice::store
