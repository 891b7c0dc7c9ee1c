#include <fstream>
#include <iostream>

#include <boost/json.hpp>

#include "daemon/commands/commands.hpp"
#include "store/event_writer.hpp"

namespace sluice::daemon {
namespace {

namespace json = boost::json;

// program_options reads "-1" as an option name; glue negative numbers to their flag.
std::vector<std::string> glue_negative_numbers(const std::vector<std::string>& args) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i].rfind("--", 0) == 0 && args[i].find('=') == std::string::npos &&
            i + 1 < args.size() && args[i + 1].size() > 1 && args[i + 1][0] == '-' &&
            std::isdigit(static_cast<unsigned char>(args[i + 1][1]))) {
            out.push_back(args[i] + "=" + args[i + 1]);
            ++i;
        } else {
            out.push_back(args[i]);
        }
    }
    return out;
}

std::string required_string(const json::object& o, const char* key, const std::string& where) {
    auto* v = o.if_contains(key);
    if (v == nullptr)
        throw UsageError(where + "\"" + key + "\" is missing");
    if (!v->is_string())
        throw UsageError(where + "\"" + key + "\" must be a string");
    return std::string(v->as_string());
}

store::BulkEvent parse_line(const std::string& text, int line, const std::string& where) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec)
        throw UsageError(where + "not valid JSON: " + ec.message());
    if (!v.is_object())
        throw UsageError(where + "each line must be a JSON object");
    const json::object& o = v.as_object();
    static const std::vector<std::string> known = {"aggregate_id", "aggregate_type", "event_type",
                                                   "payload",      "metadata",       "version",
                                                   "timestamp"};
    for (const auto& kv : o) {
        if (std::find(known.begin(), known.end(), std::string(kv.key())) == known.end()) {
            throw UsageError(where + "unknown field \"" + std::string(kv.key()) + "\"");
        }
    }
    store::BulkEvent b;
    b.line = line;
    b.aggregate_id = required_string(o, "aggregate_id", where);
    b.aggregate_type = required_string(o, "aggregate_type", where);
    b.event.event_type = required_string(o, "event_type", where);
    auto* payload = o.if_contains("payload");
    if (payload == nullptr)
        throw UsageError(where + "\"payload\" is missing");
    b.event.payload = json::serialize(*payload);
    if (auto* m = o.if_contains("metadata"); m != nullptr && !m->is_null()) {
        b.event.metadata = json::serialize(*m);
    }
    if (auto* t = o.if_contains("timestamp"); t != nullptr && !t->is_null()) {
        if (!t->is_string())
            throw UsageError(where + "\"timestamp\" must be a string");
        b.event.timestamp = std::string(t->as_string());
    }
    if (auto* ver = o.if_contains("version"); ver != nullptr) {
        if (!ver->is_int64() || ver->as_int64() < 1 || ver->as_int64() > 2147483647) {
            throw UsageError(where + "\"version\" must be a positive integer");
        }
        b.version = static_cast<int>(ver->as_int64());
    }
    if (!store::is_uuid(b.aggregate_id)) {
        throw UsageError(where + "aggregate_id '" + b.aggregate_id + "' is not a UUID");
    }
    return b;
}

std::vector<store::BulkEvent> read_file(const std::string& path) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (path != "-") {
        file.open(path);
        if (!file)
            throw UsageError("cannot read " + path);
        in = &file;
    }
    std::vector<store::BulkEvent> out;
    std::string text;
    int line = 0;
    while (std::getline(*in, text)) {
        ++line;
        if (text.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        out.push_back(parse_line(text, line, path + ":" + std::to_string(line) + ": "));
    }
    return out;
}

// "line 12: ..." from the writer becomes "events.jsonl:12: ...", like the parse errors.
std::string at_line(const std::string& path, const std::string& message) {
    if (message.rfind("line ", 0) == 0)
        return path + ":" + message.substr(5);
    return path + ": " + message;
}

int append_file(pg::Connection& conn, const std::string& table, const std::string& path,
                std::vector<store::BulkEvent> events) {
    store::EventWriter writer(conn, table);
    auto report = writer.append_bulk(events);
    for (const auto& c : report.conflicts)
        std::cerr << at_line(path, c) << "\n";
    std::cout << "appended " << report.events_appended << " events to "
              << report.aggregates_appended << " aggregates";
    if (!report.conflicts.empty())
        std::cout << "; " << report.conflicts.size() << " conflicts";
    std::cout << "\n";
    return report.conflicts.empty() ? exit_ok : exit_conflict;
}

}  // namespace

int append_command(const std::vector<std::string>& args) {
    po::options_description options("Options");
    add_database_options(options);
    options.add_options()("aggregate-id", po::value<std::string>(), "aggregate UUID")(
        "aggregate-type", po::value<std::string>(), "aggregate type, e.g. Order")(
        "expected-version", po::value<long long>(),
        "the aggregate's current version (0 for a new aggregate)")("type", po::value<std::string>(),
                                                                   "event type, e.g. OrderCreated")(
        "payload", po::value<std::string>(), "event payload (JSON)")(
        "metadata", po::value<std::string>(), "event metadata (JSON)")(
        "file", po::value<std::string>(),
        "bulk import: one JSON event per line (- for stdin), fields aggregate_id, "
        "aggregate_type, event_type, payload, and optional metadata, version, timestamp");
    po::variables_map vm;
    if (!parse_options("append",
                       "--aggregate-id UUID --aggregate-type T --expected-version N --type E "
                       "--payload JSON [--metadata JSON]\n       sluice append --file events.jsonl",
                       options, glue_negative_numbers(args), vm)) {
        return exit_ok;
    }
    const std::string table = events_table(vm);
    if (vm.count("file") != 0U) {
        for (const char* single : {"aggregate-id", "aggregate-type", "expected-version", "type",
                                   "payload", "metadata"}) {
            if (vm.count(single) != 0U) {
                throw UsageError(std::string("--file cannot be combined with --") + single);
            }
        }
        std::string path = vm["file"].as<std::string>();
        auto events = read_file(path);  // all input checked before connecting
        std::string url = database_url(vm);
        auto conn = pg::Connection::open(url, 10, "sluice append");
        require_events_table(conn, table);
        try {
            return append_file(conn, table, path, std::move(events));
        } catch (const std::invalid_argument& e) {
            throw UsageError(at_line(path, e.what()));
        }
    }

    for (const char* required :
         {"aggregate-id", "aggregate-type", "expected-version", "type", "payload"}) {
        if (vm.count(required) == 0U) {
            throw UsageError(std::string("--") + required + " is required (or use --file)");
        }
    }
    long long expected = vm["expected-version"].as<long long>();
    if (expected < 0 || expected > 2147483647) {
        throw UsageError("--expected-version must be 0 or more, got " + std::to_string(expected));
    }
    store::NewEvent event{vm["type"].as<std::string>(), vm["payload"].as<std::string>(),
                          std::nullopt, std::nullopt};
    if (vm.count("metadata") != 0U)
        event.metadata = vm["metadata"].as<std::string>();
    std::string aggregate_id = vm["aggregate-id"].as<std::string>();
    if (!store::is_uuid(aggregate_id)) {
        throw UsageError("--aggregate-id '" + aggregate_id + "' is not a UUID");
    }
    if (auto err = store::json_error(event.payload); !err.empty()) {
        throw UsageError("--payload is not valid JSON: " + err);
    }
    if (event.metadata) {
        if (auto err = store::json_error(*event.metadata); !err.empty()) {
            throw UsageError("--metadata is not valid JSON: " + err);
        }
    }
    std::string url = database_url(vm);
    auto conn = pg::Connection::open(url, 10, "sluice append");
    require_events_table(conn, table);
    store::EventWriter writer(conn, table);
    try {
        int version = writer.append(aggregate_id, vm["aggregate-type"].as<std::string>(),
                                    static_cast<int>(expected), {event});
        std::cout << "appended " << event.event_type << " to " << aggregate_id << " at version "
                  << version << "\n";
        return exit_ok;
    } catch (const store::VersionConflict& c) {
        std::cerr << "sluice append: " << c.what() << "\n";
        return exit_conflict;
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
}

}  // namespace sluice::daemon
