#include "infra/pg/error.hpp"

namespace sluice::pg {

bool Error::is_connection_error() const {
    if (sqlstate_.empty())
        return true;
    if (sqlstate_.rfind("08", 0) == 0)
        return true;
    if (sqlstate_ == "57P01" || sqlstate_ == "57P02" || sqlstate_ == "57P03")
        return true;
    return sqlstate_ == "53300";
}

}  // namespace sluice::pg
