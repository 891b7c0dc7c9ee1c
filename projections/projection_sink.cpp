#include "projections/projection_sink.hpp"

#include "engine/upcast_install.hpp"
#include "infra/pg/literal.hpp"
#include "infra/sql/text_hash.hpp"
#include "projections/schema.hpp"

namespace sluice::projections {

ProjectionSink::ProjectionSink(config::Projection projection, std::string quoted_events_table,
                               std::chrono::milliseconds statement_timeout, Part part,
                               pg::Pooling pooling, engine::Upcast upcast, std::string checkpoint)
    : projection_(std::move(projection)),
      part_(part),
      name_(checkpoint.empty() ? part_name(projection_.name, part_) : std::move(checkpoint)),
      upcast_(std::move(upcast)),
      function_(apply_function(projection_, quoted_events_table, part_, pooling, upcast_)),
      upcasters_fingerprint_(upcasters_fingerprint(projection_, upcast_)),
      event_types_(upcast_.sources_of(handled_types(projection_))),
      aggregate_types_(projection_.aggregate_types.begin(), projection_.aggregate_types.end()),
      statement_timeout_(statement_timeout) {}

boost::asio::awaitable<void> ProjectionSink::prepare(pg::AsyncConnection& conn) {
    // Checkpoints past the start under another split of this projection (or none): continuing
    // with this one would skip or repeat events.
    auto other = co_await conn.query(
        "SELECT string_agg(name, ', ' ORDER BY name) FROM sluice.checkpoints "
        "WHERE (name = $1 OR left(name, length($1) + 1) = $1 || '[') AND event_id <> 0 "
        "AND NOT (name = ANY ($2::text[]))",
        pg::Params(projection_.name, all_part_names()), statement_timeout_);
    if (!other.is_null(0, 0)) {
        throw std::runtime_error(
            "projection " + projection_.name + " has progress stored under another partitioning (" +
            std::string(other.text(0, 0)) + ") but is configured with partitions: " +
            std::to_string(part_.count) + "; run `sluice rebuild " + projection_.name +
            "` to replay it with the new partitioning");
    }
    co_await check_upcasters(conn);
    if (!projection_.schema.empty())
        co_await create_schema(conn);
    if (!projection_.setup.empty()) {
        co_await conn.exec_script(with_schema_first(projection_.schema, projection_.setup),
                                  statement_timeout_);
    }
    if (!projection_.grants.empty()) {
        co_await conn.exec_script(grants_sql(projection_.schema, projection_.grants),
                                  statement_timeout_);
    }
    co_await engine::install_upcast(conn, upcast_, statement_timeout_);
    co_await conn.exec_script(function_.create_sql, statement_timeout_);
}

boost::asio::awaitable<void> ProjectionSink::create_schema(pg::AsyncConnection& conn) {
    // A missing schema with progress stored: `schema:` was added to a projection that has run
    // (or the schema was dropped). Creating it empty and going on would leave every event
    // before the checkpoint out of the read model.
    auto r = co_await conn.query(
        "SELECT to_regnamespace($1) IS NOT NULL, EXISTS (SELECT 1 FROM sluice.checkpoints WHERE "
        "(name = $2 OR left(name, length($2) + 1) = $2 || '[') AND event_id <> 0)",
        pg::Params(pg::quote_identifier(projection_.schema), projection_.name), statement_timeout_);
    if (r.boolean(0, 0))
        co_return;
    if (r.boolean(0, 1)) {
        throw std::runtime_error(
            "projection " + projection_.name + " has applied events but its schema " +
            projection_.schema +
            " does not exist (schema: added to it, or the schema dropped); run `sluice rebuild " +
            projection_.name + "` to build it there");
    }
    co_await conn.exec_script(create_schema_sql(projection_.schema), statement_timeout_);
}

boost::asio::awaitable<void> ProjectionSink::check_upcasters(pg::AsyncConnection& conn) {
    // No row: built before any upcaster, which is the fingerprint "".
    auto stored = co_await conn.query(
        "SELECT coalesce((SELECT fingerprint FROM sluice.projection_upcasters "
        "WHERE projection = $1), ''), EXISTS (SELECT 1 FROM sluice.checkpoints WHERE "
        "(name = $1 OR left(name, length($1) + 1) = $1 || '[') AND event_id <> 0)",
        pg::Params(projection_.name), statement_timeout_);
    if (stored.text(0, 0) == upcasters_fingerprint_)
        co_return;
    if (stored.boolean(0, 1)) {
        throw std::runtime_error(
            "projection " + projection_.name +
            " was built through other upcasters of its event types than the config's; run "
            "`sluice rebuild " +
            projection_.name + "` to replay it through these (or restore the old upcasters)");
    }
    co_await conn.query(
        "INSERT INTO sluice.projection_upcasters (projection, fingerprint) VALUES ($1, $2) "
        "ON CONFLICT (projection) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
        "updated_at = now()",
        pg::Params(projection_.name, upcasters_fingerprint_), statement_timeout_);
}

std::string upcasters_fingerprint(const config::Projection& projection,
                                  const engine::Upcast& upcast) {
    const auto definition = upcast.definition_for(handled_types(projection));
    return definition.empty() ? std::string() : sql::text_hash(definition);
}

std::string ProjectionSink::all_part_names() const {
    std::vector<std::string> names;
    for (int i = 0; i < part_.count; ++i)
        names.push_back(part_name(projection_.name, {i, part_.count}));
    return pg::text_array(names);
}

bool ProjectionSink::wants(const engine::EventRow& event) const {
    if (!event_types_.contains(event.event_type))
        return false;
    if (part_.count > 1 && part_of(event.aggregate_id, part_.count) != part_.index)
        return false;
    return aggregate_types_.empty() || aggregate_types_.contains(event.aggregate_type);
}

std::vector<pg::Step> ProjectionSink::apply_steps(
    const std::vector<const engine::EventRow*>& events) const {
    return {
        {function_.call_sql,
         pg::Params(pg::int_array(events, [](const engine::EventRow* e) { return e->position.id; }),
                    name_)}};
}

std::optional<pg::Step> ProjectionSink::catch_up_step(const engine::Position& from, int limit,
                                                      const std::string& owner) const {
    return pg::Step{function_.catch_up_sql, pg::Params(name_, std::to_string(from.transaction_id),
                                                       std::to_string(from.id), limit, owner)};
}

}  // namespace sluice::projections
