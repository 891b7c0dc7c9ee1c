// The shipped examples, end to end: examples/orders and examples/conference as written (only the
// HTTP port and the webhook address changed for the test), fed the seeds' events.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "daemon_fixture.hpp"
#include "daemon_process.hpp"
#include "http_receiver.hpp"
#include "store/event_writer.hpp"
#include "test_database.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

// The example's text with its fixed HTTP port replaced by an ephemeral one.
std::string example_config(const std::string& name, const std::string& fixed_listen) {
    std::ifstream in(source_dir() + "/examples/" + name + "/sluice.yaml");
    std::stringstream text;
    text << in.rdbuf();
    std::string config = text.str();
    auto at = config.find(fixed_listen);
    EXPECT_NE(at, std::string::npos) << "the example no longer listens on " << fixed_listen;
    if (at != std::string::npos)
        config.replace(at, fixed_listen.size(), "127.0.0.1:0");
    return config;
}

class Examples : public DaemonTest {};

TEST_F(Examples, ConferenceSeatAvailabilityFollowsReservationsAndCancellations) {
    auto path = write_file("conference.yaml", example_config("conference", "127.0.0.1:9465"));
    auto daemon = DaemonProcess::start(path, {{"DATABASE_URL", db_->url()}});
    ASSERT_TRUE(wait_running(daemon, {"seat_availability"}));

    store::EventWriter writer(conn());
    const std::string big = "0a8e1b62-95c3-4a73-8e3f-5c2f3d1e0001";
    const std::string small = "0a8e1b62-95c3-4a73-8e3f-5c2f3d1e0002";
    writer.append(big, "SeatAvailability", 0,
                  {{"ConferenceCreated", R"({"capacity": 100})"},
                   {"SeatsReserved", R"({"seats": 10})"},
                   {"SeatsReserved", R"({"seats": 5})"}});
    writer.append(big, "SeatAvailability", 3, {{"SeatsReservationCancelled", R"({"seats": 3})"}});
    writer.append(
        small, "SeatAvailability", 0,
        {{"ConferenceCreated", R"({"capacity": 50})"}, {"SeatsReserved", R"({"seats": 50})"}});
    // An event of another aggregate type is not the projection's business.
    writer.append("0a8e1b62-95c3-4a73-8e3f-5c2f3d1e0003", "Order", 0,
                  {{"SeatsReserved", R"({"seats": 7})"}});

    ASSERT_TRUE(wait_checkpoint("seat_availability", head(), 10s)) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT capacity * 1000000 + reserved * 1000 + available "
                     "FROM seat_availability WHERE conference_id = $1",
                     pg::Params(big)),
              100 * 1000000 + 12 * 1000 + 88);
    EXPECT_EQ(scalar("SELECT capacity * 1000000 + reserved * 1000 + available "
                     "FROM seat_availability WHERE conference_id = $1",
                     pg::Params(small)),
              50 * 1000000 + 50 * 1000 + 0);
    EXPECT_EQ(scalar("SELECT count(*) FROM seat_availability"), 2);
}

TEST_F(Examples, OrdersFillTheReadModelAndShippedOrdersReachTheWebhook) {
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    HttpReceiver receiver(ReceiverOptions{.secrets = {secret}});
    auto path = write_file("orders.yaml", example_config("orders", "127.0.0.1:9464"));
    auto daemon =
        DaemonProcess::start(path, {{"DATABASE_URL", db_->url()},
                                    {"SHIPPING_WEBHOOK_URL", receiver.url("/hooks/orders")},
                                    {"SHIPPING_WEBHOOK_SECRET", secret}});
    ASSERT_TRUE(wait_running(daemon, {"order_summary", "shipping"}));

    // The seed document's walk-through: create, add an item, ship.
    store::EventWriter writer(conn());
    const std::string order = "5d0c8f4e-2a8b-4e55-9f0e-7b1c3a9d0001";
    const std::string customer = "5d0c8f4e-2a8b-4e55-9f0e-7b1c3a9dc0de";
    writer.append(
        order, "Order", 0,
        {{"OrderCreated",
          R"({"customer_id": ")" + customer +
              R"(", "order_items": [{"item_id": "product-A", "quantity": 2, "price": 10.0}]})"}});
    writer.append(
        order, "Order", 1,
        {{"ItemAddedToOrder", R"({"item_id": "product-B", "quantity": 1, "price": 25.0})"}});
    writer.append(order, "Order", 2,
                  {{"OrderShipped", R"({"shipping_date": "2026-11-23T12:00:00Z"})"}});

    ASSERT_TRUE(wait_checkpoint("order_summary", head(), 10s)) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM order_summary WHERE order_id = $1 AND customer_id = $2 "
                     "AND status = 'SHIPPED' AND item_count = 2 AND total = 45.0",
                     pg::Params(order, customer)),
              1)
        << "order_summary does not hold the shipped order with 2 lines and total 2 x 10 + 25";

    ASSERT_TRUE(receiver.wait_for_requests(1, 10s)) << diagnose(daemon);
    auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), 1U) << "only OrderShipped is sent to the shipping webhook";
    EXPECT_TRUE(requests[0].signature_valid);
    EXPECT_EQ(requests[0].target, "/hooks/orders");
    EXPECT_NE(requests[0].body.find("\"type\":\"OrderShipped\""), std::string::npos)
        << requests[0].body;
    EXPECT_EQ(requests[0].webhook_id, "msg_shipping_" + std::to_string(head().id));
}

// order_summary as computed from the events alone: one line per OrderCreated order_items entry
// and per ItemAddedToOrder; item_count counts the lines, total sums quantity x price.
const std::string orders_from_events = R"(SELECT * FROM (
    WITH lines AS (
      SELECT e.aggregate_id, i.line FROM events e,
             jsonb_array_elements(e.payload->'order_items') AS i(line)
       WHERE e.aggregate_type = 'Order' AND e.event_type = 'OrderCreated'
      UNION ALL
      SELECT aggregate_id, payload FROM events
       WHERE aggregate_type = 'Order' AND event_type = 'ItemAddedToOrder')
    SELECT e.aggregate_id, (e.payload->>'customer_id')::uuid,
           CASE WHEN EXISTS (SELECT 1 FROM events s WHERE s.aggregate_id = e.aggregate_id
                               AND s.event_type = 'OrderShipped') THEN 'SHIPPED'
                ELSE 'CREATED' END,
           (SELECT count(*) FROM lines l WHERE l.aggregate_id = e.aggregate_id),
           (SELECT coalesce(sum((l.line->>'quantity')::numeric * (l.line->>'price')::numeric), 0)
              FROM lines l WHERE l.aggregate_id = e.aggregate_id)
      FROM events e WHERE e.aggregate_type = 'Order' AND e.event_type = 'OrderCreated') expected)";

TEST_F(Examples, OrderSummaryEqualsItsComputationFromTheEvents) {
    auto path = write_file("orders.yaml", example_config("orders", "127.0.0.1:9464"));
    auto daemon = DaemonProcess::start(path, {{"DATABASE_URL", db_->url()}});
    ASSERT_TRUE(wait_running(daemon, {"order_summary"}));

    store::EventWriter writer(conn());
    const std::string customer = R"("customer_id": "5d0c8f4e-2a8b-4e55-9f0e-7b1c3a9dc0de")";
    const std::string reported = "5d0c8f4e-2a8b-4e55-9f0e-7b1c3a9d0011";
    // The reported order: created with 2 x 10.50 and 3 x 2.00 (2 lines, 27.00).
    writer.append(reported, "Order", 0, {{"OrderCreated", "{" + customer + R"(, "order_items": [
                      {"item_id": "product-A", "quantity": 2, "price": 10.50},
                      {"item_id": "product-B", "quantity": 3, "price": 2.00}]})"}});
    const std::string grown = "5d0c8f4e-2a8b-4e55-9f0e-7b1c3a9d0012";
    writer.append(
        grown, "Order", 0,
        {{"OrderCreated", "{" + customer + R"(, "order_items": [
                      {"item_id": "product-A", "quantity": 1, "price": 4.25}]})"},
         {"ItemAddedToOrder", R"({"item_id": "product-C", "quantity": 4, "price": 0.99})"},
         {"ItemAddedToOrder", R"({"item_id": "product-D", "quantity": 1, "price": 100})"},
         {"OrderShipped", R"({"shipping_date": "2026-11-23T12:00:00Z"})"}});
    const std::string empty = "5d0c8f4e-2a8b-4e55-9f0e-7b1c3a9d0013";
    writer.append(
        empty, "Order", 0,
        {{"OrderCreated", "{" + customer + R"(, "order_items": []})"},
         {"ItemAddedToOrder", R"({"item_id": "product-E", "quantity": 2, "price": 7.5})"}});

    ASSERT_TRUE(wait_checkpoint("order_summary", head(), 10s)) << diagnose(daemon);
    EXPECT_EQ(scalar("SELECT count(*) FROM order_summary WHERE order_id = $1 AND item_count = 2 "
                     "AND total = 27.00",
                     pg::Params(reported)),
              1)
        << "2 x 10.50 and 3 x 2.00 are 2 lines and 27.00";
    EXPECT_EQ(scalar("SELECT count(*) FROM order_summary"), 3);
    EXPECT_EQ(differences("SELECT * FROM order_summary", orders_from_events), 0);
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

// The example's upcaster: an order created in the older shape (customer, lines of sku, qty,
// unit_price) has the same order_summary row and the same Order state (sluice.aggregate_state,
// through its snapshots) as its twin created in today's shape; the stored event stays old.
TEST_F(Examples, AnOrderCreatedInTheOlderShapeReadsLikeTodaysShape) {
    auto path = write_file("orders.yaml", example_config("orders", "127.0.0.1:9464"));
    auto daemon = DaemonProcess::start(
        path, {{"DATABASE_URL", db_->url()}, {"SHIPPING_WEBHOOK_URL", "http://127.0.0.1:9/x"}});
    ASSERT_TRUE(wait_running(daemon, {"order_summary", "snapshots:Order"}));
    store::EventWriter writer(conn());
    const std::string customer = "5d0c8f4e-2a8b-4e55-9f0e-7b1c3a9dc0de";
    const std::string old_order = "5d0c8f4e-2a8b-4e55-9f0e-7b1c3a9d0a01";
    const std::string new_order = "5d0c8f4e-2a8b-4e55-9f0e-7b1c3a9d0b01";
    const std::vector<store::NewEvent> rest = {
        {"ItemAddedToOrder", R"({"item_id": "product-C", "quantity": 1, "price": 25.0})"},
        {"OrderShipped", R"({"shipping_date": "2026-11-23T12:00:00Z"})"}};
    auto history = [&](const std::string& created) {
        std::vector<store::NewEvent> events = {{"OrderCreated", created}};
        events.insert(events.end(), rest.begin(), rest.end());
        return events;
    };
    writer.append(old_order, "Order", 0, history(R"({"customer": ")" + customer + R"(", "lines": [
        {"sku": "product-A", "qty": 2, "unit_price": 10.0},
        {"sku": "product-B", "qty": 3, "unit_price": 1.5}]})"));
    writer.append(new_order, "Order", 0,
                  history(R"({"customer_id": ")" + customer + R"(", "order_items": [
        {"item_id": "product-A", "quantity": 2, "price": 10.0},
        {"item_id": "product-B", "quantity": 3, "price": 1.5}]})"));
    ASSERT_TRUE(wait_checkpoint("order_summary", head(), 10s)) << diagnose(daemon);
    ASSERT_TRUE(wait_checkpoint("snapshots:Order", head(), 10s)) << diagnose(daemon);

    EXPECT_EQ(scalar("SELECT count(*) FROM order_summary WHERE order_id = $1 AND customer_id = $2 "
                     "AND status = 'SHIPPED' AND item_count = 3 AND total = 49.5",
                     pg::Params(old_order, customer)),
              1);
    EXPECT_EQ(differences("SELECT customer_id, status, item_count, total FROM order_summary "
                          "WHERE order_id = '" +
                              old_order + "'",
                          "SELECT customer_id, status, item_count, total FROM order_summary "
                          "WHERE order_id = '" +
                              new_order + "'"),
              0);
    // every: 3 took a snapshot of both at version 3; the state is the same either way.
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.snapshots WHERE version = 3"), 2);
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.aggregate_state('Order', $1::uuid) o, "
                     "sluice.aggregate_state('Order', $2::uuid) n "
                     "WHERE o.version = 3 AND o.state = n.state AND o.state->>'total' = '49.5'",
                     pg::Params(old_order, new_order)),
              1);
    EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE aggregate_id = $1 AND payload ? 'lines'",
                     pg::Params(old_order)),
              1);
}

}  // namespace
}  // namespace sluice::testing
