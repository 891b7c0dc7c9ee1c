// Many writers, long and short transactions committing out of id order, the daemon tailing all
// the while: the orders read model ends up equal to a set-based recomputation from the events
// table, and every event is applied exactly once.
#include <atomic>
#include <random>
#include <thread>

#include "daemon_fixture.hpp"
#include "store/event_writer.hpp"

namespace sluice::testing {
namespace {

constexpr int writer_threads = 8;
constexpr int total_events = 50000;

// order_summary's handlers are those of examples/orders/sluice.yaml; applied_once has a primary
// key on the event id, so applying any event twice fails it (and stops it: retries 0).
const std::string projections = R"(
projections:
  - name: order_summary
    aggregate_types: [Order]
    setup: |
      CREATE TABLE IF NOT EXISTS order_summary (order_id uuid PRIMARY KEY, customer_id uuid,
        status text NOT NULL, item_count int NOT NULL, total numeric NOT NULL);
    reset: TRUNCATE order_summary
    handlers:
      OrderCreated: |
        INSERT INTO order_summary VALUES (:aggregate_id, (:payload->>'customer_id')::uuid,
          'CREATED', jsonb_array_length(:payload->'order_items'), 0)
      ItemAddedToOrder: |
        UPDATE order_summary SET item_count = item_count + 1,
          total = total + (:payload->>'price')::numeric * (:payload->>'quantity')::int
        WHERE order_id = :aggregate_id
      OrderShipped: UPDATE order_summary SET status = 'SHIPPED' WHERE order_id = :aggregate_id
    on_error: {retries: 0, then: stop}
  - name: applied_once
    setup: CREATE TABLE IF NOT EXISTS applied_once (event_id bigint PRIMARY KEY)
    handlers:
      OrderCreated: INSERT INTO applied_once VALUES (:id)
      ItemAddedToOrder: INSERT INTO applied_once VALUES (:id)
      OrderShipped: INSERT INTO applied_once VALUES (:id)
    on_error: {retries: 0, then: stop}
)";

// order_summary as it must be, computed from the events table in one set-based query.
const char* expected_summary_sql = R"SQL(
  WITH created AS (
    SELECT aggregate_id, (payload->>'customer_id')::uuid AS customer_id,
           jsonb_array_length(payload->'order_items') AS items
      FROM events WHERE event_type = 'OrderCreated'),
  added AS (
    SELECT aggregate_id, count(*) AS n,
           sum((payload->>'price')::numeric * (payload->>'quantity')::int) AS total
      FROM events WHERE event_type = 'ItemAddedToOrder' GROUP BY aggregate_id),
  shipped AS (SELECT DISTINCT aggregate_id FROM events WHERE event_type = 'OrderShipped')
  SELECT c.aggregate_id AS order_id, c.customer_id,
         CASE WHEN s.aggregate_id IS NULL THEN 'CREATED' ELSE 'SHIPPED' END AS status,
         (c.items + coalesce(a.n, 0))::int AS item_count, coalesce(a.total, 0) AS total
    FROM created c LEFT JOIN added a USING (aggregate_id) LEFT JOIN shipped s USING (aggregate_id)
)SQL";

std::string uuid(std::mt19937_64& rng) {
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 32; ++i) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            s += '-';
        s += hex[rng() % 16];
    }
    s[14] = '4';  // a version 4 UUID, as a client would generate
    return s;
}

// One order's whole history: created (with 1-3 items), 0-8 more items, shipped or not.
std::vector<store::NewEvent> order_history(std::mt19937_64& rng) {
    std::vector<store::NewEvent> events;
    int initial = 1 + static_cast<int>(rng() % 3);
    std::string items = "[";
    for (int i = 0; i < initial; ++i)
        items += std::string(i ? "," : "") + "{\"sku\":\"S" + std::to_string(rng() % 100) + "\"}";
    items += "]";
    events.push_back(
        {"OrderCreated", "{\"customer_id\":\"" + uuid(rng) + "\",\"order_items\":" + items + "}"});
    int more = static_cast<int>(rng() % 9);
    for (int i = 0; i < more; ++i) {
        auto cents = 1 + rng() % 99999;
        std::string price = std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") +
                            std::to_string(cents % 100);
        events.push_back({"ItemAddedToOrder", "{\"price\":\"" + price + "\",\"quantity\":" +
                                                  std::to_string(1 + rng() % 5) + "}"});
    }
    if (rng() % 2 == 0)
        events.push_back({"OrderShipped", "{}"});
    return events;
}

struct Order {
    std::string id;
    std::vector<store::NewEvent> history;
    std::size_t written = 0;
};

// Appends `quota` events: picks a random unfinished order of its own and appends its next 1-6
// events, either through EventWriter (a short transaction) or in an explicit transaction that
// stays open 0-50 ms after the insert (the load shape: ids allocated early, committed late).
void write_orders(const std::string& url, int quota, std::uint64_t seed,
                  std::atomic<int>& written_total, std::string& failure) {
    try {
        std::mt19937_64 rng(seed);
        auto conn = pg::Connection::open(url);
        store::EventWriter writer(conn);
        std::vector<Order> open;
        int remaining = quota;
        while (remaining > 0 || !open.empty()) {
            if (remaining > 0 && (open.size() < 20 || rng() % 4 == 0)) {
                Order o{uuid(rng), order_history(rng)};
                if (static_cast<int>(o.history.size()) > remaining)
                    o.history.resize(static_cast<std::size_t>(remaining));
                remaining -= static_cast<int>(o.history.size());
                open.push_back(std::move(o));
            }
            std::size_t pick = rng() % open.size();
            Order& o = open[pick];
            std::size_t n = std::min<std::size_t>(1 + rng() % 6, o.history.size() - o.written);
            std::vector<store::NewEvent> chunk(o.history.begin() + o.written,
                                               o.history.begin() + o.written + n);
            int expected = static_cast<int>(o.written);
            if (rng() % 2 == 0) {
                writer.append(o.id, "Order", expected, chunk);
            } else {
                pg::Transaction tx(conn);
                for (std::size_t i = 0; i < chunk.size(); ++i) {
                    conn.exec(
                        "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, "
                        "payload) VALUES ($1::uuid, 'Order', $2::int, $3, $4::jsonb)",
                        pg::Params(o.id, expected + 1 + static_cast<int>(i), chunk[i].event_type,
                                   chunk[i].payload));
                }
                // Load shape, not synchronisation: hold the transaction open.
                std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 51));
                tx.commit();
            }
            o.written += n;
            written_total += static_cast<int>(n);
            if (o.written == o.history.size())
                open.erase(open.begin() + static_cast<std::ptrdiff_t>(pick));
        }
    } catch (const std::exception& e) {
        failure = e.what();
    }
}

class ConcurrentWriters : public DaemonTest {};

TEST_F(ConcurrentWriters, ReadModelMatchesARecomputationAndEveryEventAppliesOnce) {
    db_->migrate();
    auto daemon = DaemonProcess::start(write_file("sluice.yaml", base_config() + projections));
    ASSERT_TRUE(wait_running(daemon, {"order_summary", "applied_once"}));

    std::atomic<int> written{0};
    std::vector<std::string> failures(writer_threads);
    std::vector<std::thread> threads;
    std::random_device rd;
    for (int t = 0; t < writer_threads; ++t) {
        threads.emplace_back(write_orders, db_->url(), total_events / writer_threads, rd(),
                             std::ref(written), std::ref(failures[static_cast<std::size_t>(t)]));
    }
    for (auto& t : threads)
        t.join();
    for (const auto& f : failures)
        ASSERT_EQ(f, "") << "a writer failed";
    ASSERT_EQ(written.load(), total_events);
    ASSERT_EQ(scalar("SELECT count(*) FROM events"), total_events);

    Position last = head();
    for (const std::string name : {"order_summary", "applied_once"}) {
        ASSERT_TRUE(wait_checkpoint(name, last, 90s))
            << name << " did not reach " << last.to_string() << " (at "
            << (checkpoint(name) ? checkpoint(name)->to_string() : "none") << ")\n"
            << diagnose(daemon);
    }

    // Exactly once: one row per event (the primary key rejects a second application), none
    // missing, nothing extra.
    EXPECT_EQ(scalar("SELECT count(*) FROM applied_once"), total_events);
    EXPECT_EQ(scalar("SELECT count(*) FROM events e WHERE NOT EXISTS "
                     "(SELECT 1 FROM applied_once a WHERE a.event_id = e.id)"),
              0);

    // The read model equals the recomputation, row for row, in both directions.
    const std::string expected = "SELECT * FROM (" + std::string(expected_summary_sql) + ") e";
    const std::string actual =
        "SELECT order_id, customer_id, status, item_count, total FROM order_summary";
    std::int64_t orders = scalar("SELECT count(*) FROM (" + expected + ") x");
    EXPECT_GT(orders, total_events / 20);
    EXPECT_EQ(scalar("SELECT count(*) FROM order_summary"), orders);
    EXPECT_EQ(scalar("SELECT count(*) FROM ((" + expected + " EXCEPT " + actual + ") UNION ALL (" +
                     actual + " EXCEPT " + expected + ")) d"),
              0)
        << "order_summary differs from the recomputation from events";

    auto st = status(daemon);
    for (const std::string name : {"order_summary", "applied_once"}) {
        auto s = st.subscriber(name);
        ASSERT_TRUE(s);
        EXPECT_EQ(s->state, "running") << name << ": " << s->last_error;
        EXPECT_EQ(s->errors, 0U) << name << ": " << s->last_error;
        EXPECT_EQ(s->events, static_cast<std::uint64_t>(total_events)) << name;
        EXPECT_EQ(s->position, last) << name;
    }
}

}  // namespace
}  // namespace sluice::testing
