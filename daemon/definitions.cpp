#include "daemon/definitions.hpp"

#include "infra/log/log.hpp"
#include "infra/pg/literal.hpp"
#include "store/definitions.hpp"
#include "store/rebuilds.hpp"

namespace sluice::daemon {
namespace {

std::string joined(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts)
        out.append(out.empty() ? "" : ", ").append(p);
    return out;
}

}  // namespace

std::string to_string(config::Projection::OnChange on_change) {
    return on_change == config::Projection::OnChange::rebuild ? "rebuild" : "continue";
}

void DefinitionWatch::configure(const config::Config& config) {
    watched_.clear();
    for (const auto& p : config.projections)
        watched_.push_back({p.name, projections::definition_of(p), p.on_change});
    announce_ = true;
    ++configured_;
}

boost::asio::awaitable<void> DefinitionWatch::check(pg::AsyncConnection& conn,
                                                    std::chrono::milliseconds timeout) {
    // A reload may configure() while this waits for the database: go on with what it began.
    const auto watched = watched_;
    const auto configured = configured_;
    const bool announcing = announce_;
    std::vector<std::string> names;
    for (const auto& w : watched)
        names.push_back(w.name);
    auto rows =
        co_await conn.query(store::definitions_sql, pg::Params(pg::text_array(names)), timeout);
    std::map<std::string, std::pair<std::string, std::string>> stored;
    for (int i = 0; i < rows.rows(); ++i) {
        stored[std::string(rows.text(i, 0))] = {std::string(rows.text(i, 1)),
                                                std::string(rows.text(i, 2))};
    }
    std::vector<DefinitionView> views;
    for (const auto& w : watched) {
        DefinitionView view{w.name, {}, to_string(w.on_change)};
        auto it = stored.find(w.name);
        if (it == stored.end()) {
            co_await conn.query(store::record_first_definition_sql,
                                pg::Params(w.name, w.definition.fingerprint, w.definition.parts),
                                timeout);
        } else {
            view.changed =
                projections::changed_parts(it->second.first, it->second.second, w.definition);
        }
        if (view.changed.empty())
            requested_.erase(w.name);
        else if (announcing)
            co_await announce(conn, timeout, w, it->second.first, view.changed);
        views.push_back(std::move(view));
    }
    views_ = std::move(views);
    if (configured == configured_)
        announce_ = false;
}

boost::asio::awaitable<void> DefinitionWatch::announce(pg::AsyncConnection& conn,
                                                       std::chrono::milliseconds timeout,
                                                       const Watched& w,
                                                       const std::string& stored_fingerprint,
                                                       const std::vector<std::string>& changed) {
    if (w.on_change == config::Projection::OnChange::continue_) {
        log::warn(
            "projection's read model was built by an older definition; it goes on with the "
            "new one for new events only (on_change: continue); rebuild it: sluice rebuild " +
                w.name,
            {{"projection", w.name}, {"changed", joined(changed)}});
        co_return;
    }
    const std::string change = stored_fingerprint + ">" + w.definition.fingerprint;
    if (requested_[w.name] == change)
        co_return;
    auto asked = co_await conn.query(
        store::request_rebuild_sql, pg::Params(w.name, std::string("definition changed")), timeout);
    requested_[w.name] = change;
    log::warn(asked.rows() > 0 ? "projection's definition changed; asked for a blue/green rebuild "
                                 "(on_change: rebuild)"
                               : "projection's definition changed; a rebuild of it is already "
                                 "asked for or running (on_change: rebuild)",
              {{"projection", w.name}, {"changed", joined(changed)}});
}

std::map<std::string, bool> DefinitionWatch::changed_by_projection() const {
    std::map<std::string, bool> out;
    for (const auto& v : views_)
        out[v.projection] = !v.changed.empty();
    return out;
}

}  // namespace sluice::daemon
