// A fresh database per test, created from the cluster that the test scripts start
// (SLUICE_TEST_DATABASE_URL, an admin URL, e.g. from `scripts/pg start`). Tests that need
// PostgreSQL call TestDatabase::create(); it throws (failing the test) when no cluster is
// configured, so a missing database can never pass as a skipped test.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "infra/pg/connection.hpp"

namespace sluice::testing {

class TestDatabase {
  public:
    // Creates database sluice_test_<random>; dropped (with FORCE) in the destructor.
    static TestDatabase create();
    TestDatabase(TestDatabase&& other) noexcept;
    TestDatabase(const TestDatabase&) = delete;
    ~TestDatabase();

    [[nodiscard]] const std::string& url() const { return url_; }
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] pg::Connection connect() const { return pg::Connection::open(url_); }
    // Runs `sluice migrate` in-process equivalent via the binary (SLUICE_BINARY).
    void migrate() const;

  private:
    TestDatabase(std::string admin_url, std::string name, std::string url)
        : admin_url_(std::move(admin_url)), name_(std::move(name)), url_(std::move(url)) {}
    std::string admin_url_;
    std::string name_;
    std::string url_;
};

// Returns true when a PostgreSQL cluster is configured for tests.
[[nodiscard]] bool pg_available();
// Replaces the database name in a postgresql:// URL.
[[nodiscard]] std::string with_database(const std::string& url, const std::string& db);

// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns whether
// it held. Use with ASSERT_TRUE(wait_until(...)) << "what was expected".
[[nodiscard]] bool wait_until(const std::function<bool()>& condition,
                              std::chrono::milliseconds timeout);

// Path of the sluice binary under test and of the source tree.
[[nodiscard]] std::string sluice_binary();
[[nodiscard]] std::string source_dir();

}  // namespace sluice::testing
