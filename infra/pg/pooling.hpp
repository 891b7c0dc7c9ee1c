// What a connection URL reaches: a server session of its own (PostgreSQL, or a session-mode
// pool), or, through a transaction-mode pool (PgBouncer, RDS Proxy, Supabase's pooler), whichever
// server session is free for each transaction, so that nothing may outlive a transaction:
// settings, prepared statements, session advisory locks, LISTEN. Its own header, free of libpq,
// because the config names it too (database.pooling).
#pragma once

#include <string>

namespace sluice::pg {

enum class Pooling { session, transaction };

// Where a connection that LISTENs goes: `listen_url` when set, else `url` unless that reaches a
// transaction-mode pool (a LISTEN there holds for one transaction of one server session);
// "" when there is nowhere to LISTEN: poll instead. Pure.
[[nodiscard]] inline std::string listen_url_for(const std::string& url,
                                                const std::string& listen_url, Pooling pooling) {
    if (!listen_url.empty())
        return listen_url;
    return pooling == Pooling::session ? url : std::string();
}

}  // namespace sluice::pg
