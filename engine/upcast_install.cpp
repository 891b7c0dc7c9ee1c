#include "engine/upcast_install.hpp"

#include <stdexcept>

#include "infra/pg/error.hpp"

namespace sluice::engine {
namespace {

std::string server_problem(const pg::ServerError& e) {
    return std::string(e.what()) + " (SQLSTATE " + e.sqlstate() + ")";
}

config::Diagnostic diagnostic(const Upcast::TypeCheck& c, const std::string& problem) {
    return {c.location, c.what + ": " + problem};
}

}  // namespace

boost::asio::awaitable<void> install_upcast(pg::AsyncConnection& conn, const Upcast& upcast,
                                            std::chrono::milliseconds timeout) {
    if (upcast.empty())
        co_return;
    for (const auto& c : upcast.type_checks()) {
        std::string problem;
        try {
            auto type = co_await conn.query(c.sql, {}, timeout);
            problem = type_problem(c.wanted, type.text(0, 0)).value_or("");
        } catch (const pg::ServerError& e) {
            problem = server_problem(e);
        }
        if (!problem.empty())
            throw std::runtime_error(config::format(diagnostic(c, problem)));
    }
    co_await conn.exec_script(upcast.install_sql(), timeout);
}

std::vector<config::Diagnostic> check_upcast(pg::Connection& conn, const Upcast& upcast) {
    std::vector<config::Diagnostic> out;
    for (const auto& c : upcast.type_checks()) {
        conn.exec("SAVEPOINT upcaster");
        std::string problem;
        try {
            auto type = conn.exec(c.sql);
            problem = type_problem(c.wanted, type.text(0, 0)).value_or("");
            conn.exec("RELEASE SAVEPOINT upcaster");
        } catch (const pg::ServerError& e) {
            conn.exec("ROLLBACK TO SAVEPOINT upcaster");
            problem = server_problem(e);
        }
        if (!problem.empty())
            out.push_back(diagnostic(c, problem));
    }
    return out;
}

}  // namespace sluice::engine
