// `sluice append` and `sluice events` on bad input: the exact one-line message on stderr, the
// documented exit code, and not a single row written. Also the help texts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sluice_process.hpp"
#include "store/event_writer.hpp"
#include "store_support.hpp"
#include "test_database.hpp"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string aggregate = "6f1c2a52-3a7e-4c1e-9d3b-0c2f5b1a9e77";
const std::string other_aggregate = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

std::string joined(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args)
        s += (s.empty() ? "" : " ") + a;
    return s;
}

std::string bulk_line(const std::string& id, const std::string& extra = "") {
    return R"({"aggregate_id":")" + id +
           R"(","aggregate_type":"Order","event_type":"Created","payload":{"total":12})" + extra +
           "}\n";
}

// A migrated database that already holds one event, so "nothing written" is a real count.
class AppendCommand : public ::testing::Test {
  protected:
    void SetUp() override {
        db_.migrate();
        conn_.emplace(db_.connect());
        store::EventWriter w(*conn_);
        w.append(other_aggregate, "Order", 0, {{"Created", "{}", std::nullopt, std::nullopt}});
        rows_before_ = count_events(*conn_);
    }

    // Arguments for a valid single append, with `replace` swapping one flag's value and
    // `drop` leaving one flag out.
    std::vector<std::string> append_args(const std::string& flag = "",
                                         const std::string& value = "",
                                         const std::string& drop = "") const {
        std::vector<std::pair<std::string, std::string>> flags = {
            {"--database-url", db_.url()}, {"--aggregate-id", aggregate},
            {"--aggregate-type", "Order"}, {"--expected-version", "0"},
            {"--type", "OrderCreated"},    {"--payload", R"({"total":12})"},
        };
        std::vector<std::string> args = {"append"};
        bool replaced = false;
        for (auto& [f, v] : flags) {
            if (f == drop)
                continue;
            args.push_back(f);
            args.push_back(f == flag ? value : v);
            replaced = replaced || f == flag;
        }
        if (!flag.empty() && !replaced) {
            args.push_back(flag);
            args.push_back(value);
        }
        return args;
    }

    // Runs sluice and checks the exit code, an empty stdout, stderr exactly `message` on one
    // line, and that the events table did not change.
    void expect_rejected(const std::vector<std::string>& args, int exit_code,
                         const std::string& message) {
        SCOPED_TRACE("sluice " + joined(args));
        auto r = run_sluice(args);
        EXPECT_EQ(r.exit_code, exit_code) << r.err;
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(r.err, message + "\n");
        EXPECT_EQ(count_events(*conn_), rows_before_) << "rows were written";
    }

    TestDatabase db_ = TestDatabase::create();
    std::optional<pg::Connection> conn_;
    std::int64_t rows_before_ = 0;
};

TEST_F(AppendCommand, AppendsAValidEventAndSaysAtWhichVersion) {
    auto r = run_sluice(append_args());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "appended OrderCreated to " + aggregate + " at version 1\n");
    EXPECT_EQ(count_events(*conn_), rows_before_ + 1);
}

TEST_F(AppendCommand, RejectsAPayloadThatIsNotJson) {
    expect_rejected(append_args("--payload", R"({"total":)"), 2,
                    "sluice append: --payload is not valid JSON: incomplete JSON");
    expect_rejected(append_args("--payload", "{bad"), 2,
                    "sluice append: --payload is not valid JSON: syntax error");
}

TEST_F(AppendCommand, RejectsMetadataThatIsNotJson) {
    expect_rejected(append_args("--metadata", "[1,"), 2,
                    "sluice append: --metadata is not valid JSON: incomplete JSON");
}

TEST_F(AppendCommand, RejectsAnAggregateIdThatIsNotAUuid) {
    expect_rejected(append_args("--aggregate-id", "order-42"), 2,
                    "sluice append: --aggregate-id 'order-42' is not a UUID");
    expect_rejected(append_args("--aggregate-id", aggregate + "0"), 2,
                    "sluice append: --aggregate-id '" + aggregate + "0' is not a UUID");
}

TEST_F(AppendCommand, RejectsANegativeExpectedVersion) {
    expect_rejected(append_args("--expected-version", "-1"), 2,
                    "sluice append: --expected-version must be 0 or more, got -1");
}

TEST_F(AppendCommand, RejectsAnUnknownFlag) {
    expect_rejected(append_args("--bogus", "1"), 2,
                    "sluice append: unrecognised option '--bogus' (see sluice append --help)");
}

TEST_F(AppendCommand, RejectsAMissingRequiredFlag) {
    expect_rejected(append_args("", "", "--expected-version"), 2,
                    "sluice append: --expected-version is required (or use --file)");
    expect_rejected(append_args("", "", "--payload"), 2,
                    "sluice append: --payload is required (or use --file)");
}

TEST_F(AppendCommand, ReportsAnUnreachableDatabaseWithoutItsPassword) {
    auto url = run_sluice(append_args("--database-url", "postgresql://u:secret@127.0.0.1:1/x"));
    EXPECT_EQ(url.exit_code, 1) << url.err;
    EXPECT_EQ(url.out, "");
    EXPECT_EQ(url.err.rfind("sluice append: cannot connect to PostgreSQL at "
                            "postgresql://u:***@127.0.0.1:1/x: ",
                            0),
              0u)
        << url.err;
    EXPECT_THAT(url.err, Not(HasSubstr("secret")));

    auto kv = run_sluice(
        append_args("--database-url", "host=127.0.0.1 port=1 user=u password=secret dbname=x"));
    EXPECT_EQ(kv.exit_code, 1) << kv.err;
    EXPECT_THAT(kv.err, HasSubstr("cannot connect"));
    EXPECT_THAT(kv.err, Not(HasSubstr("secret")));
    EXPECT_EQ(count_events(*conn_), rows_before_);
}

TEST_F(AppendCommand, ReportsAnUnreachableDatabaseOnOneLine) {
    auto r = run_sluice(append_args("--database-url", "postgresql://u:secret@127.0.0.1:1/x"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    // libpq's hint line stays a clause of its own instead of running into the reason.
    EXPECT_THAT(r.err, HasSubstr("Connection refused; Is the server running")) << r.err;
}

TEST_F(AppendCommand, RejectsABulkFileWithABadLineAndWritesNoneOfItsLines) {
    TempFile file(bulk_line(aggregate) + "{\"aggregate_id\": oops\n" +
                  bulk_line("1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a"));
    expect_rejected({"append", "--database-url", db_.url(), "--file", file.path()}, 2,
                    "sluice append: " + file.path() + ":2: not valid JSON: syntax error");
}

TEST_F(AppendCommand, RejectsABulkFileWithAnUnknownFieldAndWritesNoneOfItsLines) {
    TempFile file(bulk_line(aggregate) + bulk_line(aggregate, R"(,"colour":"red")"));
    expect_rejected({"append", "--database-url", db_.url(), "--file", file.path()}, 2,
                    "sluice append: " + file.path() + ":2: unknown field \"colour\"");
}

TEST_F(AppendCommand, RejectsABulkFileWithAMalformedUuidOrVersionAndWritesNoneOfItsLines) {
    TempFile bad_uuid(bulk_line(aggregate) + bulk_line("order-7"));
    expect_rejected(
        {"append", "--database-url", db_.url(), "--file", bad_uuid.path()}, 2,
        "sluice append: " + bad_uuid.path() + ":2: aggregate_id 'order-7' is not a UUID");
    TempFile bad_version(bulk_line(aggregate) + bulk_line(aggregate, R"(,"version":-2)"));
    expect_rejected(
        {"append", "--database-url", db_.url(), "--file", bad_version.path()}, 2,
        "sluice append: " + bad_version.path() + ":2: \"version\" must be a positive integer");
}

// Caught by the writer's validation (after connecting) rather than by the line parser: still
// nothing written. The message format differs from the parser's ("FILE:line 2: " instead of
// "FILE:2: "), so only its parts are pinned here.
TEST_F(AppendCommand, RejectsABulkLineWithAnEmptyAggregateTypeAndWritesNoneOfItsLines) {
    TempFile file(bulk_line(aggregate) + R"({"aggregate_id":")" + aggregate +
                  R"(","aggregate_type":"","event_type":"Paid","payload":{}})" + "\n");
    auto r = run_sluice({"append", "--database-url", db_.url(), "--file", file.path()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("sluice append: " + file.path() + ":", 0), 0u) << r.err;
    EXPECT_THAT(r.err, HasSubstr("2: aggregate type is empty"));
    EXPECT_EQ(count_events(*conn_), rows_before_);
}

TEST_F(AppendCommand, ReportsAVersionConflictWithExitCodeThree) {
    auto first = run_sluice(append_args());
    ASSERT_EQ(first.exit_code, 0) << first.err;
    rows_before_ = count_events(*conn_);
    expect_rejected(append_args(), 3,
                    "sluice append: version conflict on aggregate " + aggregate +
                        ": expected version 0, but it is at version 1");
}

TEST(EventsCommandInput, RejectsAMissingAggregateIdAndAMalformedOne) {
    auto db = TestDatabase::create();
    auto missing = run_sluice({"events", "--database-url", db.url()});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_EQ(missing.err,
              "sluice events: the option '--aggregate-id' is required but missing (see sluice "
              "events --help)\n");
    auto malformed = run_sluice({"events", "--database-url", db.url(), "--aggregate-id", "x"});
    EXPECT_EQ(malformed.exit_code, 2);
    EXPECT_EQ(malformed.err, "sluice events: --aggregate-id 'x' is not a UUID\n");
}

TEST(UnmigratedDatabase, EveryCommandThatReadsItSaysToRunMigrateFirst) {
    auto db = TestDatabase::create();
    const std::string id = "3f2c8a1e-5b7d-4c9e-8f10-2a4b6c8d0e12";
    const std::string no_table =
        "this database has no events table 'events': run sluice migrate first (or check the "
        "database URL and --events-table)\n";
    const std::string no_schema =
        "this database has no sluice schema: run sluice migrate first (or check the database "
        "URL)\n";
    struct Case {
        std::vector<std::string> args;
        std::string err;
    };
    const std::vector<Case> cases = {
        {{"append", "--aggregate-id", id, "--aggregate-type", "Order", "--expected-version", "0",
          "--type", "OrderCreated", "--payload", "{}"},
         "sluice append: " + no_table},
        {{"events", "--aggregate-id", id}, "sluice events: " + no_table},
        // --http: no daemon of another test may answer in its place.
        {{"status", "--http", "127.0.0.1:1"}, "sluice status: " + no_schema},
        {{"outbox", "status"}, "sluice outbox: " + no_schema},
        {{"outbox", "list"}, "sluice outbox: " + no_schema},
    };
    for (auto c : cases) {
        c.args.insert(c.args.begin() + (c.args.front() == "outbox" ? 2 : 1),
                      {"--database-url", db.url()});
        SCOPED_TRACE("sluice " + joined(c.args));
        auto r = run_sluice(c.args);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(r.err, c.err);
    }
}

TEST(EventsTableFlag, ThatIsNoTableNameIsAUsageError) {
    const std::string id = "3f2c8a1e-5b7d-4c9e-8f10-2a4b6c8d0e12";
    for (const std::string command : {"events", "migrate", "append"}) {
        std::vector<std::string> args = {command, "--database-url", "postgresql://127.0.0.1:1/x",
                                         "--events-table", "events; DROP TABLE x"};
        if (command == "events")
            args.insert(args.end(), {"--aggregate-id", id});
        if (command == "append")
            args.insert(args.end(), {"--file", "-"});
        SCOPED_TRACE("sluice " + joined(args));
        auto r = run_sluice(args);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_EQ(r.err, "sluice " + command +
                             ": --events-table: 'events; DROP TABLE x' is not a valid table name "
                             "(expected name or schema.name of lower-case letters, digits and "
                             "'_', at most 63 characters each)\n");
    }
}

TEST(NotifyChannelFlag, FollowsTheConfigsRuleForItsChannel) {
    auto r = run_sluice({"migrate", "--database-url", "postgresql://127.0.0.1:1/x",
                         "--notify-channel", "bad name"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err,
              "sluice migrate: --notify-channel: 'bad name' is not a valid identifier (expected a "
              "name of lower-case letters, digits and '_', at most 63 characters each)\n");
}

std::vector<std::string> listed_commands(const std::string& help) {
    std::vector<std::string> names;
    bool in_list = false;
    for (const std::string& line : lines_of(help)) {
        if (line == "Commands:") {
            in_list = true;
        } else if (in_list && line.empty()) {
            break;
        } else if (in_list && line.rfind("  ", 0) == 0) {
            auto start = line.find_first_not_of(' ');
            names.push_back(line.substr(start, line.find(' ', start) - start));
        }
    }
    return names;
}

void expect_exit_codes_explained(const std::string& text) {
    EXPECT_THAT(text, HasSubstr("Exit codes: 0 ok, 1 runtime failure"));
    EXPECT_THAT(text, HasSubstr("2 usage"));
    EXPECT_THAT(text, HasSubstr("3 version conflict"));
}

TEST(Help, ListsTheSubcommandsAndTheExitCodes) {
    auto r = run_sluice({"--help"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto names = listed_commands(r.out);
    for (const char* expected : {"migrate", "append", "events"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end())
            << expected << " is not listed in:\n"
            << r.out;
    }
    expect_exit_codes_explained(r.out);
}

TEST(Help, OfEverySubcommandExitsZeroAndExplainsTheExitCodes) {
    auto names = listed_commands(run_sluice({"--help"}).out);
    ASSERT_GE(names.size(), 3u);
    for (const std::string& name : names) {
        SCOPED_TRACE("sluice " + name + " --help");
        auto r = run_sluice({name, "--help"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.err, "");
        EXPECT_THAT(r.out, HasSubstr("Usage: sluice " + name));
        expect_exit_codes_explained(r.out);
    }
}

TEST(Help, ShowsPositionalArgumentsInTheUsageLineAndNotAsOptions) {
    for (const std::string& name : listed_commands(run_sluice({"--help"}).out)) {
        SCOPED_TRACE("sluice " + name + " --help");
        auto r = run_sluice({name, "--help"});
        for (const char* internal : {"--action", "--args", "--name"})
            EXPECT_THAT(r.out, Not(HasSubstr(internal)));
    }
    EXPECT_THAT(run_sluice({"rebuild", "--help"}).out,
                HasSubstr("Usage: sluice rebuild NAME --config FILE"));
    auto outbox = run_sluice({"outbox", "--help"}).out;
    EXPECT_THAT(outbox, HasSubstr("Usage: sluice outbox status"));
    EXPECT_THAT(outbox, HasSubstr("sluice outbox retry ID... [--delivered]"));
    EXPECT_THAT(outbox, HasSubstr("sluice outbox enable NAME"));
    EXPECT_THAT(outbox, HasSubstr("--delivered"));
}

TEST(Help, WithoutASubcommandListsThemOnStderrAndExitsTwo) {
    auto r = run_sluice({});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(listed_commands(r.err), ::testing::Contains("append"));
}

}  // namespace
}  // namespace sluice::testing
