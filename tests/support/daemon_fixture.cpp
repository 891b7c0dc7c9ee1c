#include "daemon_fixture.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace sluice::testing {
namespace {

namespace json = boost::json;

std::uint64_t to_u64(std::string_view text) {
    return std::stoull(std::string(text));
}

SubscriberView parse_subscriber(const json::object& o) {
    SubscriberView s;
    s.name = json::value_to<std::string>(o.at("name"));
    s.state = json::value_to<std::string>(o.at("state"));
    const auto& pos = o.at("position").as_object();
    s.position.transaction_id = to_u64(pos.at("transaction_id").as_string());
    s.position.id = json::value_to<std::int64_t>(pos.at("event_id"));
    s.events = json::value_to<std::uint64_t>(o.at("events"));
    s.errors = json::value_to<std::uint64_t>(o.at("errors"));
    s.parked = json::value_to<std::uint64_t>(o.at("parked"));
    s.quarantined = json::value_to<std::int64_t>(o.at("quarantined"));
    s.lag_events = json::value_to<std::int64_t>(o.at("lag_events"));
    s.lag_seconds = o.at("lag_seconds").to_number<double>();
    s.last_error = json::value_to<std::string>(o.at("last_error"));
    s.sqlstate = json::value_to<std::string>(o.at("sqlstate"));
    if (!o.at("failed_event_id").is_null())
        s.failed_event_id = json::value_to<std::int64_t>(o.at("failed_event_id"));
    return s;
}

}  // namespace

const std::string append_ticks_sql =
    "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
    "SELECT gen_random_uuid(), 'Test', 1, 'Tick', jsonb_build_object('n', g, 'g', g % 7) "
    "FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) g";

std::optional<SubscriberView> StatusView::subscriber(const std::string& name) const {
    for (const auto& s : subscribers) {
        if (s.name == name)
            return s;
    }
    return std::nullopt;
}

std::vector<std::string> StatusView::names() const {
    std::vector<std::string> out;
    for (const auto& s : subscribers)
        out.push_back(s.name);
    return out;
}

StatusView parse_status(const std::string& body) {
    json::object root = json::parse(body).as_object();
    StatusView v;
    v.ready = root.at("ready").as_bool();
    v.reason = json::value_to<std::string>(root.at("reason"));
    const auto& tailer = root.at("tailer").as_object();
    v.fetches = json::value_to<std::uint64_t>(tailer.at("fetches"));
    v.notify_wakeups = json::value_to<std::uint64_t>(tailer.at("notify_wakeups"));
    v.poll_wakeups = json::value_to<std::uint64_t>(tailer.at("poll_wakeups"));
    v.held_rechecks = json::value_to<std::uint64_t>(tailer.at("held_rechecks"));
    for (const auto& item : root.at("subscribers").as_array())
        v.subscribers.push_back(parse_subscriber(item.as_object()));
    for (const auto& e : root.at("config_errors").as_array())
        v.config_errors.push_back(json::value_to<std::string>(e));
    return v;
}

std::optional<double> metric_sample(const std::string& exposition, const std::string& name,
                                    const std::vector<std::string>& labels) {
    std::size_t pos = 0;
    while (pos < exposition.size()) {
        auto end = exposition.find('\n', pos);
        std::string line =
            exposition.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        pos = end == std::string::npos ? exposition.size() : end + 1;
        if (!line.starts_with(name + "{") && !line.starts_with(name + " "))
            continue;
        bool all = true;
        for (const auto& l : labels)
            all = all && line.find(l) != std::string::npos;
        if (all)
            return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return std::nullopt;
}

void DaemonTest::SetUp() {
    db_.emplace(TestDatabase::create());
    url_ = db_->url();
    conn_.emplace(db_->connect());
    std::string pattern = (std::filesystem::temp_directory_path() / "sluice-e2e-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
        throw std::runtime_error("cannot create a temp directory");
    dir_ = pattern;
}

void DaemonTest::TearDown() {
    conn_.reset();
    if (!dir_.empty() && !HasFailure())
        std::filesystem::remove_all(dir_);
}

void DaemonTest::use_database(const std::string& url) {
    auto r = run_command({sluice_binary(), "migrate", "--database-url", url}, 60s);
    if (!r.status.is_exit(0))
        throw std::runtime_error("sluice migrate failed: " + r.status.describe() + "\n" + r.output);
    url_ = url;
    conn_.reset();
}

pg::Connection& DaemonTest::conn() {
    if (!conn_)
        conn_.emplace(pg::Connection::open(url_, 10, "sluice test"));
    return *conn_;
}

std::string DaemonTest::base_config(const ConfigOptions& options) const {
    std::string text = "database:\n  url: \"" + (options.url.empty() ? url_ : options.url) +
                       "\"\n  statement_timeout: 20s\n"
                       "tailer:\n  poll_interval: " +
                       options.poll_interval +
                       "\n  batch_size: " + std::to_string(options.batch_size) +
                       "\nhttp:\n  listen: 127.0.0.1:0\n"
                       "log:\n  level: " +
                       options.log_level + "\n";
    if (!options.failover_after.empty())
        text += "coordination:\n  failover_after: " + options.failover_after + "\n";
    return text;
}

std::string DaemonTest::write_file(const std::string& file_name, const std::string& text) const {
    std::string path = dir_ + "/" + file_name;
    std::ofstream out(path, std::ios::trunc);
    out << text;
    out.close();
    if (!out)
        throw std::runtime_error("cannot write " + path);
    return path;
}

StatusView DaemonTest::status(DaemonProcess& daemon) {
    auto r = daemon.http_get("/status");
    if (r.status != 200)
        throw std::runtime_error("/status answered " + std::to_string(r.status) + ": " + r.body);
    return parse_status(r.body);
}

bool DaemonTest::wait_status(DaemonProcess& daemon,
                             const std::function<bool(const StatusView&)>& condition,
                             std::chrono::milliseconds timeout) {
    return wait_until([&] { return daemon.running() && condition(status(daemon)); }, timeout);
}

bool DaemonTest::wait_running(DaemonProcess& daemon, const std::vector<std::string>& names) {
    bool ok = wait_until(
        [&] {
            if (!daemon.running())
                return true;  // reported below
            auto st = status(daemon);
            for (const auto& n : names) {
                auto s = st.subscriber(n);
                if (!s || s->state != "running")
                    return false;
            }
            return true;
        },
        20s);
    if (!daemon.running()) {
        ADD_FAILURE() << "sluice exited while starting\n" << daemon.output_tail();
        return false;
    }
    if (!ok)
        ADD_FAILURE() << "subscribers not running within 20 s\n" << diagnose(daemon);
    return ok;
}

std::string DaemonTest::diagnose(DaemonProcess& daemon) {
    return describe_for_failure(daemon, conn());
}

std::optional<Position> DaemonTest::checkpoint(const std::string& name) {
    auto exists = conn().exec("SELECT to_regclass('sluice.checkpoints') IS NOT NULL");
    if (!exists.boolean(0, 0))
        return std::nullopt;
    auto r =
        conn().exec("SELECT transaction_id::text, event_id FROM sluice.checkpoints WHERE name = $1",
                    pg::Params(name));
    if (r.rows() == 0)
        return std::nullopt;
    return Position{to_u64(r.text(0, 0)), r.int64(0, 1)};
}

Position DaemonTest::head() {
    // Qualified: a bare `transaction_id` in ORDER BY would name the text output column and sort
    // "9999" after "10000".
    auto r = conn().exec(
        "SELECT transaction_id::text, id FROM events "
        "ORDER BY events.transaction_id DESC, id DESC LIMIT 1");
    if (r.rows() == 0)
        return {};
    return {to_u64(r.text(0, 0)), r.int64(0, 1)};
}

bool DaemonTest::wait_checkpoint(const std::string& name, Position target,
                                 std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
            auto c = checkpoint(name);
            return c && *c == target;
        },
        timeout);
}

std::int64_t DaemonTest::scalar(const std::string& sql, const pg::Params& params) {
    auto r = conn().exec(sql, params);
    if (r.rows() != 1 || r.is_null(0, 0))
        throw std::runtime_error("expected one non-null value from: " + sql);
    return r.int64(0, 0);
}

std::int64_t DaemonTest::differences(const std::string& sql, const std::string& expected_sql) {
    return scalar("SELECT count(*) FROM ((" + sql + " EXCEPT ALL " + expected_sql +
                  ") UNION ALL (" + expected_sql + " EXCEPT ALL " + sql + ")) d");
}

Position DaemonTest::insert_event(const std::string& event_type, const std::string& payload) {
    auto r = conn().exec(
        "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
        "VALUES (gen_random_uuid(), 'Test', 1, $1, $2::jsonb) RETURNING transaction_id::text, id",
        pg::Params(event_type, payload));
    return {to_u64(r.text(0, 0)), r.int64(0, 1)};
}

void DaemonTest::bulk_insert(std::int64_t count, const std::string& event_type,
                             std::int64_t per_transaction) {
    for (std::int64_t from = 1; from <= count; from += per_transaction) {
        std::int64_t to = std::min(count, from + per_transaction - 1);
        conn().exec(
            "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
            "SELECT gen_random_uuid(), 'Test', 1, $1, jsonb_build_object('i', g) "
            "FROM generate_series($2::bigint, $3::bigint) g",
            pg::Params(event_type, from, to));
    }
}

void DaemonTest::append_ticks(std::int64_t count) {
    std::int64_t first = scalar("SELECT count(*) FROM events") + 1;
    conn().exec(append_ticks_sql, pg::Params(first, count));
}

}  // namespace sluice::testing
