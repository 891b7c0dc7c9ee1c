// RAII ownership of PGresult and read helpers. A bare PGresult* never crosses a function
// boundary: it lives in a Result from the moment libpq returns it.
// Error policy: readers trust the caller's row/column (libpq returns "" out of range); int64()
// throws std::runtime_error for text that is not an integer (a query that does not match its
// reader is a programming error, not a database failure).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::pg {

struct ResultDeleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};

class Result {
  public:
    Result() = default;
    explicit Result(PGresult* r) : r_(r) {}

    [[nodiscard]] PGresult* get() const { return r_.get(); }
    [[nodiscard]] explicit operator bool() const { return r_ != nullptr; }
    [[nodiscard]] ExecStatusType status() const { return PQresultStatus(r_.get()); }
    [[nodiscard]] int rows() const { return PQntuples(r_.get()); }
    [[nodiscard]] int columns() const { return PQnfields(r_.get()); }
    [[nodiscard]] bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col); }
    [[nodiscard]] std::string_view text(int row, int col) const {
        return {PQgetvalue(r_.get(), row, col),
                static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
    }
    [[nodiscard]] std::optional<std::string> optional_text(int row, int col) const;
    [[nodiscard]] std::int64_t int64(int row, int col) const;
    [[nodiscard]] bool boolean(int row, int col) const { return text(row, col) == "t"; }
    [[nodiscard]] std::string affected() const { return PQcmdTuples(r_.get()); }

  private:
    std::unique_ptr<PGresult, ResultDeleter> r_;
};

}  // namespace sluice::pg
