#include "engine_fixture.hpp"

#include "infra/pg/literal.hpp"

#include <boost/asio/co_spawn.hpp>
#include <exception>

#include "store/migrate.hpp"
#include "store/migrations.hpp"

namespace sluice::testing {
namespace {

namespace asio = boost::asio;

constexpr auto drain_timeout = 10s;

// The feed and the runners take the same connection and reading options.
template <class Options>
Options options_for(const std::string& url, std::chrono::milliseconds poll) {
    Options o;
    o.url = url;
    o.quoted_table = pg::quote_qualified("events");
    o.batch_size = 100;
    o.poll_interval = poll;
    o.connect_timeout = 5s;
    o.statement_timeout = 10s;
    return o;
}

}  // namespace

void EngineTest::SetUp() {
    db_.emplace(TestDatabase::create());
    conn_.emplace(db_->connect());
    store::migrate(*conn_, store::SchemaOptions{});
    conn_->exec(applied_table_sql);
}

void EngineTest::TearDown() {
    for (auto& runner : runners_)
        runner->stop();
    if (feed_)
        feed_->stop();
    // run_for returns as soon as nothing is left to run: every coroutine ended, every timer
    // and socket wait completed.
    io_.run_for(drain_timeout);
    EXPECT_EQ(tasks_running_, 0) << "runner or feed tasks still running 10 s after stop()";
    if (!io_.stopped()) {
        ADD_FAILURE() << "the io_context still had pending work 10 s after stop()\n" << describe();
        // The pending coroutines refer to the runners and the feed: keep them alive so that
        // destroying io_ (which destroys those coroutines) touches nothing freed.
        for (auto& runner : runners_)
            (void)runner.release();
        (void)feed_.release();
    }
    runners_.clear();
    feed_.reset();
    conn_.reset();
}

engine::FeedOptions EngineTest::feed_options(std::chrono::milliseconds poll) const {
    return options_for<engine::FeedOptions>(db_->url(), poll);
}

engine::RunnerOptions EngineTest::runner_options(std::chrono::milliseconds poll) const {
    return options_for<engine::RunnerOptions>(db_->url(), poll);
}

engine::Feed& EngineTest::start_feed(engine::FeedOptions options) {
    feed_ = std::make_unique<engine::Feed>(io_.get_executor(), std::move(options));
    ++tasks_running_;
    asio::co_spawn(io_, feed_->run(), [this](std::exception_ptr e) {
        --tasks_running_;
        if (e)
            ADD_FAILURE() << "Feed::run() threw";
    });
    return *feed_;
}

engine::Runner& EngineTest::start_runner(const std::string& name, config::OnError on_error,
                                         std::shared_ptr<SinkProbe> probe,
                                         engine::RunnerOptions options) {
    auto sink = std::make_unique<RecordingSink>(name, on_error, std::move(probe));
    runners_.push_back(std::make_unique<engine::Runner>(
        std::move(sink), *feed_, std::move(options), std::make_shared<engine::SubscriberStatus>()));
    ++tasks_running_;
    asio::co_spawn(io_, runners_.back()->run(), [this, name](std::exception_ptr e) {
        --tasks_running_;
        if (e)
            ADD_FAILURE() << "Runner::run() of " << name << " threw";
    });
    return *runners_.back();
}

bool EngineTest::run_until(const std::function<bool()>& condition,
                           std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (io_.stopped() || std::chrono::steady_clock::now() >= deadline)
            return false;
        io_.run_one_until(deadline);
    }
    return true;
}

std::vector<Position> EngineTest::insert(const std::vector<TestEvent>& events) {
    std::vector<Position> out;
    pg::Transaction tx(*conn_);
    for (const auto& e : events) {
        auto r = conn_->exec(
            "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
            "VALUES (md5($1)::uuid, 'Test', $2, 'Tick', jsonb_build_object('aggregate', $1::text)) "
            "RETURNING transaction_id::text, id",
            pg::Params(e.aggregate, e.version));
        out.push_back({std::stoull(std::string(r.text(0, 0))), r.int64(0, 1)});
    }
    tx.commit();
    return out;
}

std::vector<std::int64_t> EngineTest::applied(const std::string& name) {
    auto r =
        conn_->exec("SELECT event_id FROM applied WHERE sink = $1 ORDER BY seq", pg::Params(name));
    std::vector<std::int64_t> out;
    for (int i = 0; i < r.rows(); ++i)
        out.push_back(r.int64(i, 0));
    return out;
}

std::string EngineTest::applied_versions(const std::string& name) {
    auto r = conn_->exec(
        "SELECT coalesce(string_agg((e.payload->>'aggregate') || e.version, ' ' ORDER BY a.seq), "
        "'') FROM applied a JOIN events e ON e.id = a.event_id WHERE a.sink = $1",
        pg::Params(name));
    return std::string(r.text(0, 0));
}

std::optional<Position> EngineTest::checkpoint(const std::string& name) {
    auto r =
        conn_->exec("SELECT transaction_id::text, event_id FROM sluice.checkpoints WHERE name = $1",
                    pg::Params(name));
    if (r.rows() == 0)
        return std::nullopt;
    return Position{std::stoull(std::string(r.text(0, 0))), r.int64(0, 1)};
}

std::int64_t EngineTest::scalar(const std::string& sql, const pg::Params& params) {
    auto r = conn_->exec(sql, params);
    if (r.rows() != 1 || r.is_null(0, 0))
        throw std::runtime_error("expected one non-null value from: " + sql);
    return r.int64(0, 0);
}

std::string EngineTest::describe() {
    std::string out;
    if (feed_) {
        out += "feed: head " + feed_->head().to_string() + ", fetches " +
               std::to_string(feed_->stats().fetches) + ", waiters " +
               std::to_string(feed_->waiters()) + "\n";
    }
    for (const auto& runner : runners_) {
        const auto& s = *runner->status();
        out += s.name + ": " + engine::to_string(s.state) + " at " + s.position.to_string() + ", " +
               std::to_string(s.batches) + " batches, " + std::to_string(s.errors) +
               " errors, last error: " + s.last_error + "\n";
    }
    return out;
}

}  // namespace sluice::testing
