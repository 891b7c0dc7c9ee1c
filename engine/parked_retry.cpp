#include "engine/parked_retry.hpp"

#include "engine/fetch.hpp"
#include "infra/failure/failure.hpp"
#include "store/coordination.hpp"

namespace sluice::engine {

using std::chrono::milliseconds;

namespace {

constexpr milliseconds client_margin{5000};  // client deadline beyond the server's timeout
constexpr std::string_view query_canceled = "57014";

// Takes the subscriber's transaction-level advisory lock, waiting for the daemon's batch of it.
// A session that holds it longer than the statement timeout (a rebuild) is reported as SL002,
// the SQLSTATE the daemon's own batches meet in that case.
asio::awaitable<void> lock_subscriber(pg::AsyncConnection& conn, const std::string& name,
                                      milliseconds deadline) {
    std::optional<pg::ServerError> refused;
    try {
        co_await conn.query("SELECT pg_advisory_xact_lock(sluice.subscriber_lock_key($1))",
                            pg::Params(name), deadline);
    } catch (const pg::ServerError& e) {
        if (e.sqlstate() != query_canceled)
            throw;
        refused = e;
    }
    if (refused) {
        throw pg::ServerError(
            name + " is being written by another session (a rebuild?): " + refused->what(),
            std::string(store::subscriber_busy_sqlstate));
    }
}

// The transaction's work, inside BEGIN ... COMMIT; returns what to do with it.
asio::awaitable<Retried> unpark_and_apply(pg::AsyncConnection& conn, const Sink& sink,
                                          std::int64_t event_id, const RetryOptions& options) {
    const milliseconds deadline = options.statement_timeout + client_margin;
    co_await lock_subscriber(conn, sink.name(), deadline);
    auto deleted = co_await conn.query(
        "DELETE FROM sluice.parked_events WHERE subscriber = $1 AND event_id = $2 "
        "RETURNING transaction_id::text",
        pg::Params(sink.name(), event_id), deadline);
    if (deleted.rows() == 0)
        co_return Retried::not_parked;
    auto rows = parse_rows(co_await conn.query(fetch_one_sql(options.quoted_events_table),
                                               pg::Params(event_id), deadline))
                    .rows;
    if (rows.empty())
        co_return Retried::not_in_events;
    if (!sink.wants(rows.front()))
        co_return Retried::not_wanted;
    const std::vector<const EventRow*> event{&rows.front()};
    auto steps = sink.apply_steps(event);
    // Parked, it was not counted as applied; now it is (the counter `sluice verify` checks).
    steps.push_back({"SELECT sluice.count_unparked($1, $2::xid8, $3)",
                     pg::Params(sink.name(), std::string(deleted.text(0, 0)), event_id)});
    co_await conn.pipeline(std::move(steps), deadline);
    co_return Retried::applied;
}

// The parked row keeps the error of the latest attempt, so `sluice parked list` shows what the
// current handlers say, not what the ones that parked it said. Not for a refusal of the
// subscriber's lock (SL002), which says nothing about the event.
asio::awaitable<void> record_new_error(pg::AsyncConnection& conn, const std::string& subscriber,
                                       std::int64_t event_id, const Failure& failed,
                                       milliseconds deadline) {
    const auto refused = failed.as<pg::ServerError>();
    if (!refused || store::coordination_of(*refused))
        co_return;
    co_await conn.query(
        "UPDATE sluice.parked_events SET error = $3, sqlstate = $4 "
        "WHERE subscriber = $1 AND event_id = $2",
        pg::Params(subscriber, event_id, std::string(refused->what()), refused->sqlstate()),
        deadline);
}

}  // namespace

asio::awaitable<Retried> retry_parked(pg::AsyncConnection& conn, const Sink& sink,
                                      std::int64_t event_id, RetryOptions options) {
    const milliseconds deadline = options.statement_timeout + client_margin;
    co_await conn.query("BEGIN", {}, deadline);
    Retried outcome = Retried::not_parked;
    Failure failed;
    try {
        outcome = co_await unpark_and_apply(conn, sink, event_id, options);
    } catch (const pg::Error&) {
        failed = Failure::current();
    }
    if (failed) {
        // A lost connection or a passed deadline ended the session: the server rolls back.
        if (conn.is_usable()) {
            co_await conn.query("ROLLBACK", {}, deadline);
            co_await record_new_error(conn, sink.name(), event_id, failed, deadline);
        }
        failed.rethrow();
    }
    const bool keep = outcome == Retried::applied || outcome == Retried::not_wanted;
    co_await conn.query(keep ? "COMMIT" : "ROLLBACK", {}, deadline);
    co_return outcome;
}

asio::awaitable<std::optional<std::int64_t>> first_in_quarantine(pg::AsyncConnection& conn,
                                                                 const std::string& subscriber,
                                                                 const std::string& aggregate_type,
                                                                 const std::string& aggregate_id,
                                                                 milliseconds timeout) {
    auto r = co_await conn.query(
        "SELECT event_id FROM sluice.parked_events WHERE subscriber = $1 AND quarantine "
        "AND aggregate_type = $2 AND aggregate_id = $3::uuid ORDER BY version, event_id LIMIT 1",
        pg::Params(subscriber, aggregate_type, aggregate_id), timeout + client_margin);
    if (r.rows() == 0)
        co_return std::nullopt;
    co_return r.int64(0, 0);
}

}  // namespace sluice::engine
