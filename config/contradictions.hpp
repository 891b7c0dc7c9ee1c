// Internal to sluice_config: configurations in which every value is valid on its own, but which
// can never do anything or say two contradicting things (docs/configuration.md, "Configurations
// that can never work" lists the cases and the ones deliberately accepted). They run after every
// section has been read, on the YAML nodes for exact positions, and look only at what read
// without error, so no problem is reported twice.
// Error policy: reports through the Reader; never throws.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string_view>

#include "config/config.hpp"
#include "config/reader.hpp"

namespace sluice::config {

// `http_read` is false when the http section itself had errors: then config.http.listen may be
// a default the file did not ask for, and no webhook is compared against it.
void check_contradictions(Reader& r, const YAML::Node& root, const Config& config, bool http_read);

// True when a request to webhook `url` would reach an HTTP endpoint listening on `listen`
// (as in http.listen): the same port and an address that connects there. Host names other than
// localhost are not resolved (that would be I/O), so only loopback names and addresses and the
// listen address itself are recognised. Pure; false for anything unparsable or port 0.
[[nodiscard]] bool reaches_listen_address(std::string_view url, std::string_view listen);

}  // namespace sluice::config
