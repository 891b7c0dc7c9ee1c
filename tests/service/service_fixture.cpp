#include "service_fixture.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace sluice::testing {
namespace {

namespace json = boost::json;

// The statement every writer in this suite uses; $1 = first n, $2 = count.
const std::string append_sql =
    "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
    "SELECT gen_random_uuid(), 'Test', 1, 'Tick', jsonb_build_object('n', g, 'g', g % 7) "
    "FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) g";

}  // namespace

std::optional<SubscriberReport> StatusReport::subscriber(const std::string& name) const {
    for (const auto& s : subscribers) {
        if (s.name == name)
            return s;
    }
    return std::nullopt;
}

std::vector<std::string> StatusReport::names() const {
    std::vector<std::string> out;
    for (const auto& s : subscribers)
        out.push_back(s.name);
    return out;
}

StatusReport parse_status_report(const std::string& body) {
    json::object root = json::parse(body).as_object();
    StatusReport r;
    r.ready = root.at("ready").as_bool();
    r.reason = json::value_to<std::string>(root.at("reason"));
    for (const auto& item : root.at("subscribers").as_array()) {
        const auto& o = item.as_object();
        SubscriberReport s;
        s.name = json::value_to<std::string>(o.at("name"));
        s.state = json::value_to<std::string>(o.at("state"));
        const auto& pos = o.at("position").as_object();
        s.position.transaction_id = std::stoull(std::string(pos.at("transaction_id").as_string()));
        s.position.event_id = json::value_to<std::int64_t>(pos.at("event_id"));
        s.events = json::value_to<std::uint64_t>(o.at("events"));
        s.errors = json::value_to<std::uint64_t>(o.at("errors"));
        r.subscribers.push_back(std::move(s));
    }
    for (const auto& e : root.at("config_errors").as_array())
        r.config_errors.push_back(json::value_to<std::string>(e));
    return r;
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

EventWriter::EventWriter(std::string url, std::int64_t limit, int per_transaction)
    : url_(std::move(url)),
      limit_(limit),
      per_transaction_(per_transaction),
      thread_([this] { run(); }) {}

EventWriter::~EventWriter() {
    stop();
}

std::int64_t EventWriter::stop() {
    stop_ = true;
    if (thread_.joinable())
        thread_.join();
    return appended_.load();
}

bool EventWriter::wait_appended(std::int64_t count, std::chrono::milliseconds timeout) const {
    return wait_until([&] { return appended_.load() >= count || failed_.load(); }, timeout) &&
           !failed_.load();
}

void EventWriter::run() {
    try {
        auto conn = pg::Connection::open(url_, 10, "service test writer");
        while (!stop_ && appended_.load() < limit_) {
            conn.exec(append_sql, pg::Params(appended_.load() + 1,
                                             static_cast<std::int64_t>(per_transaction_)));
            appended_ += per_transaction_;
            // Pacing: about a thousand events a second, so that a run stays small.
            std::this_thread::sleep_for(std::chrono::milliseconds(4));
        }
    } catch (const std::exception& e) {
        error_ = e.what();
        failed_ = true;
    }
}

void ServiceTest::SetUp() {
    db_.emplace(TestDatabase::create());
    conn_.emplace(db_->connect());
    std::string pattern = (std::filesystem::temp_directory_path() / "sluice-svc-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
        throw std::runtime_error("cannot create a temp directory");
    dir_ = pattern;
}

void ServiceTest::TearDown() {
    conn_.reset();
    if (!dir_.empty() && !HasFailure())
        std::filesystem::remove_all(dir_);
}

std::string ServiceTest::base_config(const std::string& url, const std::string& level,
                                     int batch_size) const {
    return "database:\n  url: \"" + (url.empty() ? db_->url() : url) +
           "\"\n  statement_timeout: 20s\n"
           "tailer:\n  poll_interval: 200ms\n  batch_size: " +
           std::to_string(batch_size) +
           "\nhttp:\n  listen: 127.0.0.1:0\n"
           "log:\n  level: " +
           level + "\n";
}

std::string ServiceTest::write_file(const std::string& file_name, const std::string& text) const {
    std::string path = dir_ + "/" + file_name;
    std::ofstream out(path, std::ios::trunc);
    out << text;
    out.close();
    if (!out)
        throw std::runtime_error("cannot write " + path);
    return path;
}

StatusReport ServiceTest::status(DaemonProcess& daemon) {
    auto r = daemon.http_get("/status");
    if (r.status != 200)
        throw std::runtime_error("/status answered " + std::to_string(r.status) + ": " + r.body);
    return parse_status_report(r.body);
}

bool ServiceTest::wait_status(DaemonProcess& daemon,
                              const std::function<bool(const StatusReport&)>& condition,
                              std::chrono::milliseconds timeout) {
    return wait_until([&] { return daemon.running() && condition(status(daemon)); }, timeout);
}

bool ServiceTest::wait_running(DaemonProcess& daemon, const std::vector<std::string>& names) {
    bool ok = wait_status(
        daemon,
        [&](const StatusReport& st) {
            for (const auto& n : names) {
                auto s = st.subscriber(n);
                if (!s || s->state != "running")
                    return false;
            }
            return true;
        },
        20s);
    if (!ok)
        ADD_FAILURE() << "subscribers not running within 20 s\n" << diagnose(daemon);
    return ok;
}

std::string ServiceTest::diagnose(DaemonProcess& daemon) {
    return describe_for_failure(daemon, *conn_);
}

std::optional<CommitPosition> ServiceTest::checkpoint(const std::string& name) {
    auto exists = conn_->exec("SELECT to_regclass('sluice.checkpoints') IS NOT NULL");
    if (!exists.boolean(0, 0))
        return std::nullopt;
    auto r =
        conn_->exec("SELECT transaction_id::text, event_id FROM sluice.checkpoints WHERE name = $1",
                    pg::Params(name));
    if (r.rows() == 0)
        return std::nullopt;
    return CommitPosition{std::stoull(std::string(r.text(0, 0))), r.int64(0, 1)};
}

CommitPosition ServiceTest::head() {
    // Qualified: a bare `transaction_id` in ORDER BY would name the text output column.
    auto r = conn_->exec(
        "SELECT transaction_id::text, id FROM events "
        "ORDER BY events.transaction_id DESC, id DESC LIMIT 1");
    if (r.rows() == 0)
        return {};
    return {std::stoull(std::string(r.text(0, 0))), r.int64(0, 1)};
}

bool ServiceTest::wait_checkpoint(const std::string& name, CommitPosition target,
                                  std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
            auto c = checkpoint(name);
            return c && *c == target;
        },
        timeout);
}

std::int64_t ServiceTest::scalar(const std::string& sql, const pg::Params& params) {
    auto r = conn_->exec(sql, params);
    if (r.rows() != 1 || r.is_null(0, 0))
        throw std::runtime_error("expected one non-null value from: " + sql);
    return r.int64(0, 0);
}

std::int64_t ServiceTest::differences(const std::string& sql, const std::string& expected_sql) {
    return scalar("SELECT count(*) FROM ((" + sql + " EXCEPT ALL " + expected_sql +
                  ") UNION ALL (" + expected_sql + " EXCEPT ALL " + sql + ")) d");
}

void ServiceTest::append(std::int64_t count) {
    std::int64_t first = scalar("SELECT count(*) FROM events") + 1;
    conn_->exec(append_sql, pg::Params(first, count));
}

}  // namespace sluice::testing
