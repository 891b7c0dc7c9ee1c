#include "daemon/status_report.hpp"

#include <boost/json.hpp>
#include <cmath>

#include "daemon/json_text.hpp"
#include "projections/schema.hpp"

namespace sluice::daemon {

Readiness readiness(const DaemonState& state) {
    // Until its first connections and its first round of taking units, an instance runs
    // nothing yet, and nothing was lost.
    const bool starting = state.coordination.rounds == 0 && state.coordination.last_error.empty();
    if (!state.feed.connected) {
        const bool never_down = state.feed.down_since == std::chrono::steady_clock::time_point{};
        return {false, starting && never_down ? "starting" : "database connection lost"};
    }
    if (!state.coordination.connected)
        return {false, starting ? "starting" : "coordination connection lost"};
    if (starting)
        return {false, "starting"};
    if (state.now - state.feed.last_progress > state.stall_after)
        return {false, "tailer stalled"};
    for (const auto& s : state.subscribers) {
        // Paused for an operator's `sluice rebuild`: intended, and it resumes on its own.
        if (s->state == engine::State::paused)
            continue;
        if (s->state == engine::State::stopped) {
            return {false, s->kind + " " + s->name + " stopped"};
        }
        if (s->state != engine::State::running) {
            return {false, s->kind + " " + s->name + " " + engine::to_string(s->state)};
        }
        if (state.now - s->last_progress > state.stall_after) {
            return {false, s->kind + " " + s->name + " stalled"};
        }
    }
    return {true, "ok"};
}

double RebuildView::eta_seconds() const {
    if (rate <= 0 || total <= 0)
        return -1;
    return static_cast<double>(std::max<std::int64_t>(0, total - done)) / rate;
}

std::vector<RebuildView> rebuild_views(const pg::Result& r) {
    std::vector<RebuildView> out;
    for (int i = 0; i < r.rows(); ++i) {
        RebuildView v;
        v.projection = std::string(r.text(i, 0));
        v.command = std::string(r.text(i, 1));
        v.phase = std::string(r.text(i, 2));
        v.running = r.boolean(i, 3);
        v.seconds = r.int64(i, 4);
        v.reason = std::string(r.text(i, 5));
        v.instance = std::string(r.text(i, 6));
        v.done = r.int64(i, 7);
        v.total = r.int64(i, 8);
        v.error = std::string(r.text(i, 9));
        v.rate = std::strtod(std::string(r.text(i, 10)).c_str(), nullptr);
        out.push_back(std::move(v));
    }
    return out;
}

boost::json::array rebuilds_json(const std::vector<RebuildView>& rebuilds) {
    boost::json::array out;
    for (const auto& r : rebuilds) {
        const double eta = r.eta_seconds();
        out.push_back(boost::json::object{
            {"projection", r.projection},
            {"command", r.command},
            {"generation", projections::incoming_checkpoint(r.projection, r.command == "rollback")},
            {"phase", r.phase},
            {"running", r.running},
            {"seconds", r.seconds},
            {"reason", r.reason},
            {"instance", r.instance},
            {"done", r.done},
            {"total", r.total},
            {"rate", std::round(r.rate * 10) / 10},
            {"eta_seconds",
             eta < 0 ? boost::json::value(nullptr) : boost::json::value(std::round(eta))},
            {"error", r.error}});
    }
    return out;
}

boost::json::array definitions_json(const std::vector<DefinitionView>& definitions) {
    boost::json::array out;
    for (const auto& d : definitions) {
        boost::json::array changed;
        for (const auto& part : d.changed)
            changed.push_back(boost::json::string(part));
        out.push_back(boost::json::object{{"projection", d.projection},
                                          {"definition", d.changed.empty() ? "current" : "changed"},
                                          {"changed", std::move(changed)},
                                          {"on_change", d.on_change}});
    }
    return out;
}

namespace {

// The definition of the projection a subscriber (or part, NAME[k/N]) runs, if compared yet.
const DefinitionView* definition_of(const std::vector<DefinitionView>& definitions,
                                    const std::string& subscriber) {
    const std::string projection = subscriber.substr(0, subscriber.find('['));
    for (const auto& d : definitions) {
        if (d.projection == projection)
            return &d;
    }
    return nullptr;
}

}  // namespace

std::string status_json(const DaemonState& state) {
    namespace json = boost::json;
    auto r = readiness(state);
    json::object root;
    root["ready"] = r.ready;
    root["reason"] = r.reason;
    root["instance"] = state.instance;
    double outage = 0;
    if (!state.feed.connected && state.feed.down_since != std::chrono::steady_clock::time_point{})
        outage = std::chrono::duration<double>(state.now - state.feed.down_since).count();
    root["database"] = {{"connected", state.feed.connected},
                        {"reconnects", state.feed.reconnects},
                        {"outage_seconds", outage},
                        {"last_error", state.feed.last_error}};
    root["tailer"] = {{"fetches", state.feed.fetches},
                      {"notify_wakeups", state.feed.notify_wakeups},
                      {"poll_wakeups", state.feed.poll_wakeups},
                      {"held_rechecks", state.feed.held_rechecks},
                      {"horizon_held_seconds", state.feed.horizon_held_seconds}};
    json::array owned;
    for (const auto& name : state.coordination.owned)
        owned.push_back(json::string(name));
    root["coordination"] = {{"connected", state.coordination.connected},
                            {"live_instances", state.coordination.live_instances},
                            {"owned", std::move(owned)},
                            {"reconnects", state.coordination.reconnects},
                            {"last_error", state.coordination.last_error}};
    json::array subs;
    for (const auto& s : state.subscribers) {
        json::object o;
        o["name"] = s->name;
        o["kind"] = s->kind;
        o["state"] = engine::to_string(s->state);
        o["position"] = {{"transaction_id", std::to_string(s->position.transaction_id)},
                         {"event_id", s->position.id}};
        o["lag_events"] = s->lag_events;
        o["lag_seconds"] = s->lag_seconds;
        o["events"] = s->events;
        o["batches"] = s->batches;
        o["errors"] = s->errors;
        o["parked"] = s->parked;
        o["quarantined"] = s->quarantined;
        o["last_error"] = s->last_error;
        o["sqlstate"] = s->last_sqlstate;
        if (s->failed_event_id) {
            o["failed_event_id"] = *s->failed_event_id;
        } else {
            o["failed_event_id"] = nullptr;
        }
        o["owner"] = state.instance;
        if (s->kind == "projection") {
            const auto* d = definition_of(state.definitions, s->name);
            json::array changed;
            for (const auto& part : d != nullptr ? d->changed : std::vector<std::string>{})
                changed.push_back(json::string(part));
            o["definition"] = d == nullptr ? "unknown" : d->changed.empty() ? "current" : "changed";
            o["changed"] = std::move(changed);
        }
        subs.push_back(std::move(o));
    }
    root["subscribers"] = std::move(subs);
    json::array errors;
    for (const auto& e : state.config_errors)
        errors.push_back(json::string(e));
    root["config_errors"] = std::move(errors);
    root["rebuilds"] = rebuilds_json(state.rebuilds);
    root["definitions"] = definitions_json(state.definitions);
    return json_text(root);
}

}  // namespace sluice::daemon
