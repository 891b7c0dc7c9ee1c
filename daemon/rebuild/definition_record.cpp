#include "daemon/rebuild/definition_record.hpp"

#include "store/definitions.hpp"

namespace sluice::daemon {

void record_definition(pg::Connection& conn, const std::string& name,
                       const projections::Definition& definition) {
    conn.exec(store::record_definition_sql,
              pg::Params(name, definition.fingerprint, definition.parts));
}

void forget_definition(pg::Connection& conn, const std::string& name) {
    conn.exec(store::forget_definition_sql, pg::Params(name));
}

void swap_definitions(pg::Connection& conn, const std::string& live, const std::string& incoming,
                      const std::string& outgoing) {
    // Read both first: a rollback's incoming and outgoing are the same name.
    auto rows = conn.exec(store::two_definitions_sql, pg::Params(live, incoming));
    for (const auto& name : {live, incoming, outgoing})
        forget_definition(conn, name);
    for (int i = 0; i < rows.rows(); ++i) {
        const std::string to = rows.text(i, 0) == live ? outgoing : live;
        if (to.empty())
            continue;
        conn.exec(store::record_definition_sql,
                  pg::Params(to, std::string(rows.text(i, 1)), std::string(rows.text(i, 2))));
    }
}

}  // namespace sluice::daemon
