#include "test_database.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <stdexcept>
#include <thread>

namespace sluice::testing {
namespace {

std::string admin_url() {
    const char* u = std::getenv("SLUICE_TEST_DATABASE_URL");
    return u ? u : "";
}

std::string random_suffix() {
    std::random_device rd;
    std::mt19937_64 gen(rd());
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 12; ++i)
        s += hex[gen() % 16];
    return s;
}

}  // namespace

bool pg_available() {
    return !admin_url().empty();
}

std::string with_database(const std::string& url, const std::string& db) {
    // postgresql://user@host:port/dbname?params
    auto scheme = url.find("://");
    if (scheme == std::string::npos)
        return url + " dbname=" + db;
    auto slash = url.find('/', scheme + 3);
    auto query = url.find('?', scheme + 3);
    std::string base = url.substr(0, slash == std::string::npos ? query : slash);
    std::string tail = query == std::string::npos ? "" : url.substr(query);
    return base + "/" + db + tail;
}

TestDatabase TestDatabase::create() {
    if (!pg_available()) {
        throw std::runtime_error(
            "SLUICE_TEST_DATABASE_URL is not set: start a cluster with `eval \"$(scripts/pg "
            "start)\"` and export SLUICE_TEST_DATABASE_URL=$DATABASE_URL, or run scripts/test");
    }
    std::string name = "sluice_test_" + random_suffix();
    auto admin = pg::Connection::open(admin_url());
    admin.exec_script("CREATE DATABASE " + name);
    return TestDatabase(admin_url(), name, with_database(admin_url(), name));
}

TestDatabase::TestDatabase(TestDatabase&& other) noexcept
    : admin_url_(std::move(other.admin_url_)),
      name_(std::move(other.name_)),
      url_(std::move(other.url_)) {
    other.name_.clear();
}

TestDatabase::~TestDatabase() {
    if (name_.empty())
        return;
    try {
        auto admin = pg::Connection::open(admin_url_);
        admin.exec_script("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
        ADD_FAILURE() << "could not drop test database " << name_ << ": " << e.what();
    }
}

void TestDatabase::migrate() const {
    std::string cmd = sluice_binary() + " migrate --database-url '" + url_ + "' >/dev/null";
    int rc = std::system(cmd.c_str());
    if (rc != 0)
        throw std::runtime_error("sluice migrate failed for " + name_);
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (condition())
            return true;
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::string sluice_binary() {
    const char* b = std::getenv("SLUICE_BINARY");
    if (!b)
        throw std::runtime_error("SLUICE_BINARY is not set (run tests through ctest)");
    return b;
}

std::string source_dir() {
    const char* s = std::getenv("SLUICE_SOURCE_DIR");
    if (!s)
        throw std::runtime_error("SLUICE_SOURCE_DIR is not set (run tests through ctest)");
    return s;
}

}  // namespace sluice::testing
