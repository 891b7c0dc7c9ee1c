// Event versioning: a config's `upcasters:` as the one SQL function every consumer reads events
// through. sluice."upcast_<hash of its text>"(the event's columns) returns the event's
// (event_type, payload) after every upcaster, in order, each seeing what the earlier ones made
// of it; the stored event never changes. It lives in the sluice schema, named by its text, so
// that it outlives a transaction-mode pool's sessions and every config version has its own (the
// persistent fold functions call it too). A failing upcaster raises the failure's SQLSTATE with a
// message naming the upcaster (number, event type, place in the file) and the event id, so the
// consumer's on_error handles it as that event's error.
// Consumers see the upcast event: projection handlers (batch and catch-up), snapshot folds,
// webhook filter:/body:, `sluice events`. A consumer that handles types H reads every event whose
// stored type may become one of H (sources_of), and calls the function only for the events
// an upcaster applies to (guard_types).
// Pure. Error policy: std::invalid_argument for an expression with an unknown parameter (the
// config loader reports those first).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace sluice::engine {

using TypeSet = std::set<std::string, std::less<>>;

class Upcast {
  public:
    Upcast() = default;  // no upcasters: every event as stored
    // `session_only`: the function is pg_temp.sluice_upcast, for a command that reads through
    // the upcasters without installing anything (install_sql then creates that one).
    Upcast(std::vector<config::Upcaster> upcasters, const std::string& quoted_events_table,
           bool session_only = false);

    [[nodiscard]] bool empty() const { return upcasters_.empty(); }
    [[nodiscard]] const std::vector<config::Upcaster>& upcasters() const { return upcasters_; }

    // sluice."upcast_<hash>" (empty when there are no upcasters).
    [[nodiscard]] const std::string& function() const { return function_; }
    // Installs the function: one transaction, serialised with other installers (two sessions
    // replacing one function at once fail with "tuple concurrently updated"). Empty when none.
    [[nodiscard]] const std::string& install_sql() const { return install_sql_; }
    // The function over the events row (or record) `row`; one row (event_type text, payload
    // jsonb).
    [[nodiscard]] std::string call(std::string_view row) const;

    // The stored event types whose events may be seen as one of `types` (`types` included).
    [[nodiscard]] TypeSet sources_of(const TypeSet& types) const;
    // Of those, the ones an upcaster applies to: only their events need the function.
    [[nodiscard]] TypeSet guard_types(const TypeSet& types) const;
    // The upcasters that may change how an event seen as one of `types` looks, as text that
    // changes whenever one of them does (for fingerprints and reload); empty when none.
    [[nodiscard]] std::string definition_for(const TypeSet& types) const;
    // Every upcaster so (for a consumer of every event type).
    [[nodiscard]] std::string definition() const;

    // PL/pgSQL statements that upcast the record `record` (fields event_type and payload are
    // replaced) when its type is one of guard_types(types); empty when there is nothing to do.
    // The function declaring them must declare plpgsql_variables().
    [[nodiscard]] std::string plpgsql_step(std::string_view record, const TypeSet& types,
                                           std::string_view indent) const;
    // The DECLARE lines plpgsql_step needs (empty without upcasters).
    [[nodiscard]] std::string plpgsql_variables() const;

    // Queries of one row and one text column: the type of each `when:` and `payload:`, parsed
    // and planned against the events table without reading a row; with what it must be.
    struct TypeCheck {
        std::string sql;
        std::string_view wanted;  // "boolean" | "jsonb"
        std::string what;         // "when of upcaster 1 (OrderCreated)"
        config::Location location;
    };
    [[nodiscard]] const std::vector<TypeCheck>& type_checks() const { return type_checks_; }

  private:
    std::vector<config::Upcaster> upcasters_;
    std::string function_;
    std::string install_sql_;
    std::vector<TypeCheck> type_checks_;
};

// What is wrong with an expression of type `type` where `wanted` is needed; nullopt when it
// fits.
[[nodiscard]] std::optional<std::string> type_problem(std::string_view wanted,
                                                      std::string_view type);

}  // namespace sluice::engine
