#include "infra/pg/connection.hpp"

#include <optional>
#include <regex>
#include <vector>

namespace sluice::pg {

std::string redact_url(const std::string& url) {
    // postgresql://user:secret@host/db  ->  postgresql://user:***@host/db
    static const std::regex url_password(R"(^([a-z]+://[^:/@?]*):[^@/?]*@)");
    // password=secret in key=value strings and URL query parameters
    static const std::regex kv_password(R"((password\s*=\s*)('[^']*'|[^\s&]*))");
    std::string out = std::regex_replace(url, url_password, "$1:***@");
    return std::regex_replace(out, kv_password, "$1***");
}

std::string one_line(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    bool line_start = true;
    for (char c : text) {
        if (c == '\n' || c == '\r') {
            line_start = true;
            continue;
        }
        bool blank = c == '\t' || c == ' ';
        if (blank) {
            if (!line_start && !out.empty() && out.back() != ' ')
                out += ' ';
            continue;
        }
        if (line_start && !out.empty()) {
            while (!out.empty() && out.back() == ' ')
                out.pop_back();
            out += "; ";
        }
        line_start = false;
        out += c;
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

Diagnostic diagnostic_from(PGconn* conn, const PGresult* result) {
    Diagnostic d;
    if (result != nullptr) {
        // The primary message and its DETAIL, without CONTEXT/HINT lines.
        if (const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)) {
            d.message = primary;
            if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) {
                d.message += std::string(" (") + detail + ")";
            }
        } else {
            d.message = PQresultErrorMessage(result);
        }
        if (const char* s = PQresultErrorField(result, PG_DIAG_SQLSTATE))
            d.sqlstate = s;
    }
    if (d.message.empty() && conn != nullptr)
        d.message = PQerrorMessage(conn);
    d.message = one_line(d.message);
    if (d.message.empty())
        d.message = "unknown PostgreSQL error";
    return d;
}

std::string connect_failure(const std::string& url, PGconn* conn) {
    return "cannot connect to PostgreSQL at " + redact_url(url) + ": " +
           diagnostic_from(conn, nullptr).message;
}

std::string session_sql(const SessionOptions& session) {
    std::string sql;
    if (session.statement_timeout)
        sql +=
            "SET statement_timeout = " + std::to_string(session.statement_timeout->count()) + ";";
    if (session.jit != Jit::server_default) {
        sql += std::string(sql.empty() ? "" : " ") +
               "SET jit = " + (session.jit == Jit::on ? "on" : "off") + ";";
    }
    return sql;
}

std::string transaction_settings_sql(const SessionOptions& session) {
    std::vector<std::string> calls;
    if (session.statement_timeout) {
        calls.push_back("set_config('statement_timeout', '" +
                        std::to_string(session.statement_timeout->count()) + "', true)");
    }
    if (session.jit != Jit::server_default)
        calls.push_back(std::string("set_config('jit', '") +
                        (session.jit == Jit::on ? "on" : "off") + "', true)");
    std::string sql;
    for (const auto& c : calls)
        sql += (sql.empty() ? "SELECT " : ", ") + c;
    return sql;
}

Connection Connection::open(const std::string& url, int connect_timeout_s,
                            const SessionOptions& session) {
    // Keywords before dbname are defaults; the expanded URL overrides them.
    std::string timeout = std::to_string(connect_timeout_s);
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {timeout.c_str(), session.application_name.c_str(), url.c_str(),
                            nullptr};
    ConnHandle conn(PQconnectdbParams(keys, values, 1));
    if (!conn)
        throw ConnectionLost("out of memory while connecting to PostgreSQL");
    if (PQstatus(conn.get()) != CONNECTION_OK)
        throw ConnectionLost(connect_failure(url, conn.get()));
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);
    Connection c(std::move(conn));
    if (auto sql = session_sql(session); !sql.empty())
        c.exec_script(sql);
    return c;
}

Result Connection::exec(const std::string& sql, const Params& params) {
    auto ptrs = params.pointers();
    Result r(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(ptrs.size()), nullptr,
                          ptrs.data(), nullptr, nullptr, 0));
    auto st = r ? r.status() : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        throw_error(diagnostic_from(conn_.get(), r.get()));
    return r;
}

void Connection::exec_script(const std::string& sql) {
    if (PQsendQuery(conn_.get(), sql.c_str()) == 0)
        throw_error(diagnostic_from(conn_.get(), nullptr));
    std::optional<Diagnostic> first;
    while (PGresult* raw = PQgetResult(conn_.get())) {
        Result r(raw);
        auto st = r.status();
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !first) {
            first = diagnostic_from(conn_.get(), r.get());
        }
    }
    if (first)
        throw_error(std::move(*first));
}

Transaction::Transaction(Connection& c) : conn_(c) {
    conn_.exec("BEGIN");
}

Transaction::~Transaction() {
    if (done_)
        return;
    try {
        conn_.exec("ROLLBACK");
    } catch (const Error&) {
        // The connection is gone; the server rolls back on its own.
    }
}

void Transaction::commit() {
    conn_.exec("COMMIT");
    done_ = true;
}

}  // namespace sluice::pg
