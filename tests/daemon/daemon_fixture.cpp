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

}  // namespace

std::optional<SubscriberView> StatusView::subscriber(const std::string& name) const {
    for (const auto& s : subscribers) {
        if (s.name == name)
            return s;
    }
    return std::nullopt;
}

StatusView parse_status(const std::string& body) {
    json::object root = json::parse(body).as_object();
    StatusView v;
    v.ready = root.at("ready").as_bool();
    const auto& tailer = root.at("tailer").as_object();
    v.fetches = json::value_to<std::uint64_t>(tailer.at("fetches"));
    v.notify_wakeups = json::value_to<std::uint64_t>(tailer.at("notify_wakeups"));
    v.poll_wakeups = json::value_to<std::uint64_t>(tailer.at("poll_wakeups"));
    for (const auto& item : root.at("subscribers").as_array()) {
        const auto& o = item.as_object();
        SubscriberView s;
        s.name = json::value_to<std::string>(o.at("name"));
        s.state = json::value_to<std::string>(o.at("state"));
        const auto& pos = o.at("position").as_object();
        s.position.transaction_id = to_u64(pos.at("transaction_id").as_string());
        s.position.event_id = json::value_to<std::int64_t>(pos.at("event_id"));
        s.events = json::value_to<std::uint64_t>(o.at("events"));
        s.errors = json::value_to<std::uint64_t>(o.at("errors"));
        s.parked = json::value_to<std::uint64_t>(o.at("parked"));
        s.last_error = json::value_to<std::string>(o.at("last_error"));
        s.sqlstate = json::value_to<std::string>(o.at("sqlstate"));
        if (!o.at("failed_event_id").is_null())
            s.failed_event_id = json::value_to<std::int64_t>(o.at("failed_event_id"));
        v.subscribers.push_back(std::move(s));
    }
    return v;
}

void DaemonTest::SetUp() {
    db_.emplace(TestDatabase::create());
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

std::string DaemonTest::base_config(const std::string& poll_interval, int batch_size) const {
    return "database:\n"
           "  url: \"" +
           db_->url() +
           "\"\n"
           "  statement_timeout: 20s\n"
           "tailer:\n"
           "  poll_interval: " +
           poll_interval + "\n  batch_size: " + std::to_string(batch_size) +
           "\n"
           "http:\n"
           "  listen: 127.0.0.1:0\n"
           "log:\n"
           "  level: info\n";
}

std::string DaemonTest::write_file(const std::string& file_name, const std::string& text) const {
    std::string path = dir_ + "/" + file_name;
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out)
        throw std::runtime_error("cannot write " + path);
    return path;
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
        ADD_FAILURE() << "subscribers not running within 20 s\n" << daemon.output_tail();
    return ok;
}

StatusView DaemonTest::status(DaemonProcess& daemon) {
    auto r = daemon.http_get("/status");
    if (r.status != 200)
        throw std::runtime_error("/status answered " + std::to_string(r.status) + ": " + r.body);
    return parse_status(r.body);
}

std::string DaemonTest::diagnose(DaemonProcess& daemon) {
    return describe_for_failure(daemon, *conn_);
}

std::optional<Position> DaemonTest::checkpoint(const std::string& name) {
    auto exists = conn_->exec("SELECT to_regclass('sluice.checkpoints') IS NOT NULL");
    if (!exists.boolean(0, 0))
        return std::nullopt;
    auto r =
        conn_->exec("SELECT transaction_id::text, event_id FROM sluice.checkpoints WHERE name = $1",
                    pg::Params(name));
    if (r.rows() == 0)
        return std::nullopt;
    return Position{to_u64(r.text(0, 0)), r.int64(0, 1)};
}

Position DaemonTest::max_position() {
    // Qualified: a bare `transaction_id` in ORDER BY would name the text output column and sort
    // "9999" after "10000".
    auto r = conn_->exec(
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
    auto r = conn_->exec(sql, params);
    if (r.rows() != 1 || r.is_null(0, 0))
        throw std::runtime_error("expected one non-null value from: " + sql);
    return r.int64(0, 0);
}

Position DaemonTest::insert_event(const std::string& event_type, const std::string& payload) {
    auto r = conn_->exec(
        "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
        "VALUES (gen_random_uuid(), 'Test', 1, $1, $2::jsonb) RETURNING transaction_id::text, id",
        pg::Params(event_type, payload));
    return {to_u64(r.text(0, 0)), r.int64(0, 1)};
}

void DaemonTest::bulk_insert(std::int64_t count, const std::string& event_type,
                             std::int64_t per_transaction) {
    for (std::int64_t from = 1; from <= count; from += per_transaction) {
        std::int64_t to = std::min(count, from + per_transaction - 1);
        conn_->exec(
            "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
            "SELECT gen_random_uuid(), 'Test', 1, $1, jsonb_build_object('i', g) "
            "FROM generate_series($2::bigint, $3::bigint) g",
            pg::Params(event_type, from, to));
    }
}

}  // namespace sluice::testing
