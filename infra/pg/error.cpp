#include "infra/pg/error.hpp"

namespace sluice::pg {

bool ends_session(std::string_view sqlstate) {
    if (sqlstate.empty() || sqlstate.starts_with("08"))
        return true;
    return sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "53300";
}

void throw_error(Diagnostic d) {
    if (ends_session(d.sqlstate))
        throw ConnectionLost(d.message, std::move(d.sqlstate));
    throw ServerError(d.message, std::move(d.sqlstate));
}

std::string sqlstate_of(const std::exception& e) {
    if (const auto* s = dynamic_cast<const ServerError*>(&e))
        return s->sqlstate();
    if (const auto* c = dynamic_cast<const ConnectionLost*>(&e))
        return c->sqlstate();
    return {};
}

}  // namespace sluice::pg
