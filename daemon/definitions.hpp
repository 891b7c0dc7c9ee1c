// Whether each projection's read model was built by the definition the config gives it
// (projections/definition.hpp, sluice.projection_definitions). The daemon's monitor calls check()
// on its connection: every round it reads the stored definitions (a rebuild that recorded the
// config's clears the "changed" state it shows); after configure() (start, reload) the next
// check also records a definition for a projection that has none (one that ran before the
// table existed was built by the definition it runs now), logs each changed projection once,
// and for those with `on_change: rebuild` asks for a blue/green rebuild (store/rebuilds.hpp),
// once per change.
// Threading: event-loop thread only. Error policy: check() lets pg::Error through (the
// monitor logs it and tries again at its next round, announcing then).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/status_report.hpp"
#include "infra/pg/async_connection.hpp"
#include "projections/definition.hpp"

namespace sluice::daemon {

class DefinitionWatch {
  public:
    // Takes the config's projections; the next check() announces what it finds.
    void configure(const config::Config& config);

    boost::asio::awaitable<void> check(pg::AsyncConnection& conn,
                                       std::chrono::milliseconds timeout);

    // As of the last check(), by projection; empty before the first.
    [[nodiscard]] const std::vector<DefinitionView>& views() const { return views_; }
    // sluice_projection_definition_changed's values, by projection.
    [[nodiscard]] std::map<std::string, bool> changed_by_projection() const;

  private:
    struct Watched {
        std::string name;
        projections::Definition definition;
        config::Projection::OnChange on_change;
    };
    // Logs a changed projection, or asks for its rebuild.
    boost::asio::awaitable<void> announce(pg::AsyncConnection& conn,
                                          std::chrono::milliseconds timeout, const Watched& w,
                                          const std::string& stored_fingerprint,
                                          const std::vector<std::string>& changed);

    std::vector<Watched> watched_;
    bool announce_ = false;
    std::uint64_t configured_ =
        0;  // configure() calls: a check that overlapped one announces again
    std::vector<DefinitionView> views_;
    // Projection -> "stored>config" fingerprints of the change a rebuild was asked for: a
    // reload that changes nothing more asks no second time.
    std::map<std::string, std::string> requested_;
};

[[nodiscard]] std::string to_string(config::Projection::OnChange on_change);

}  // namespace sluice::daemon
