// A webhook's `filter:` and `body:` through `sluice run` and a real receiver: exactly the events
// the filter is true for are enqueued, each with the body's result as `data` (the row stored is
// what is sent), and a body that fails for one event (a division by zero) is handled per the
// webhook's `on_error` while the later events go on. Bad expressions are refused by
// `sluice check-config` at their place in the file.
#include <gmock/gmock.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "webhook_fixture.hpp"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

class WebhookShape : public WebhookTest {
  protected:
    // Appends one Order event with {"total": total, "items": items}; returns its id.
    std::int64_t order(int total, int items) {
        return conn()
            .exec(
                "INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload) "
                "VALUES (gen_random_uuid(), 'Order', 1, 'OrderPlaced', "
                "jsonb_build_object('total', $1::int, 'items', $2::int)) RETURNING id",
                pg::Params(total, items))
            .int64(0, 0);
    }

    // "file:line:column" of the first occurrence of `needle` in the config file.
    [[nodiscard]] std::string place_of(const std::string& needle) const {
        std::ifstream in(config_path_);
        std::string line;
        for (int n = 1; std::getline(in, line); ++n) {
            if (auto at = line.find(needle); at != std::string::npos)
                return config_path_ + ":" + std::to_string(n) + ":" + std::to_string(at + 1);
        }
        ADD_FAILURE() << needle << " is not in " << config_path_;
        return "";
    }

    // `sluice check-config ARGS -c <config>`: exit code and output.
    std::pair<int, std::string> check_config(std::vector<std::string> args) {
        args.insert(args.begin(), "check-config");
        args.insert(args.end(), {"-c", config_path_});
        auto process = DaemonProcess::spawn(args);
        auto exit = process.wait_exit(60s);
        if (!exit) {
            ADD_FAILURE() << "check-config kept running";
            return {-1, process.output()};
        }
        return {exit->exited ? exit->code : -1, process.output()};
    }
};

const std::string filter = "(:payload->>'total')::int >= 10";
const std::string body =
    "jsonb_build_object('order', :aggregate_id, 'total', (:payload->>'total')::int, "
    "'per_item', (:payload->>'total')::int / (:payload->>'items')::int)";

TEST_F(WebhookShape, FilterAndBodyGiveExactlyTheExpectedMessagesAndAFailingBodyIsParked) {
    HttpReceiver receiver({.secrets = {secret_a}});
    write_config({webhook_yaml("orders", receiver.url(),
                               "    filter: \"" + filter + "\"\n    body: \"" + body +
                                   "\"\n    on_error: {retries: 1, backoff: 10ms, then: park}\n")});
    const std::int64_t small = order(5, 1);    // filtered out
    const std::int64_t twelve = order(12, 3);  // per_item 4
    const std::int64_t poison = order(20, 0);  // division by zero: parked
    const std::int64_t thirty = order(30, 2);  // per_item 15, after the poison
    auto daemon = DaemonProcess::start(config_path_);

    ASSERT_TRUE(wait_outbox_rows("orders", "delivered", 2, 20s)) << diagnose(daemon);
    ASSERT_TRUE(
        wait_until([&] { return scalar("SELECT count(*) FROM sluice.parked_events") == 1; }, 20s))
        << diagnose(daemon);
    auto parked = conn().exec("SELECT subscriber, event_id, sqlstate FROM sluice.parked_events");
    EXPECT_EQ(parked.text(0, 0), "orders");
    EXPECT_EQ(parked.int64(0, 1), poison);
    EXPECT_EQ(parked.text(0, 2), "22012") << "division_by_zero";
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox"), 2)
        << "only the events the filter is true for, and not the parked one";
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox WHERE event_id = $1", pg::Params(small)),
              0);

    std::map<std::int64_t, json::value> expected;  // event id -> data
    for (auto [id, total, per_item] : {std::tuple{twelve, 12, 4}, {thirty, 30, 15}}) {
        const std::string aggregate = std::string(
            conn()
                .exec("SELECT aggregate_id::text FROM events WHERE id = $1", pg::Params(id))
                .text(0, 0));
        expected[id] = json::object{{"order", aggregate}, {"total", total}, {"per_item", per_item}};
    }
    const auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), 2u);
    for (const auto& r : requests) {
        auto envelope = json::parse(r.body).as_object();
        EXPECT_TRUE(r.signature_valid);
        EXPECT_EQ(envelope.at("type").as_string(), "OrderPlaced");
        EXPECT_EQ(envelope.at("schema").as_int64(), 1);
        const std::int64_t id = std::stoll(r.webhook_id.substr(r.webhook_id.rfind('_') + 1));
        ASSERT_TRUE(expected.contains(id)) << r.webhook_id;
        EXPECT_EQ(envelope.at("data"), expected[id]) << r.body;
        // What was sent is what the dispatcher stored in its transaction.
        const auto stored =
            conn().exec("SELECT data::text FROM sluice.outbox WHERE event_id = $1", pg::Params(id));
        EXPECT_EQ(json::parse(stored.text(0, 0)), envelope.at("data"));
    }
}

TEST_F(WebhookShape, CheckConfigRefusesBadFiltersAndBodiesAtTheirPlace) {
    // Without a database: a parameter that is no column of the event.
    write_config(
        {webhook_yaml("orders", "http://127.0.0.1:9/hook", "    filter: \":totl > 1\"\n")});
    auto [code, out] = check_config({});
    EXPECT_EQ(code, 2) << out;
    EXPECT_THAT(out, HasSubstr(place_of(":totl") + ": unknown parameter ':totl' in filter of "
                                                   "webhook 'orders' (available: :id"))
        << out;

    // With --connect: the SQL and its type, each at the first character of its expression.
    write_config({webhook_yaml("orders", "http://127.0.0.1:9/hook",
                               "    filter: \"(:payload->>'total')::int\"\n"
                               "    body: \":payload->>'total'\"\n"),
                  webhook_yaml("audit", "http://127.0.0.1:9/hook",
                               "    filter: \"(:payload->>'total' >\"\n")});
    std::tie(code, out) = check_config({"--connect"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_THAT(out, HasSubstr(place_of("(:payload->>'total')::int\"") +
                               ": filter of webhook 'orders': filter must be of type boolean, but "
                               "is of type integer"))
        << out;
    EXPECT_THAT(out, HasSubstr(place_of(":payload->>'total'\"") +
                               ": body of webhook 'orders': body must be of type jsonb, but is of "
                               "type text (add ::jsonb, or build it with jsonb_build_object)"))
        << out;
    EXPECT_THAT(out, HasSubstr(place_of("(:payload->>'total' >") +
                               ": filter of webhook 'audit': syntax error"))
        << out;

    // The daemon says the same for the webhook and keeps the others going.
    write_config(
        {webhook_yaml("orders", "http://127.0.0.1:9/hook", "    body: \":payload->>'total'\"\n")});
    auto daemon = DaemonProcess::start(config_path_);
    EXPECT_TRUE(daemon.wait_for_log("body of webhook 'orders': body must be of type jsonb", 20s))
        << daemon.output_tail();
    EXPECT_EQ(scalar("SELECT count(*) FROM sluice.outbox"), 0);
}

}  // namespace
}  // namespace sluice::testing
