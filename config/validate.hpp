// Pure checks of single configuration values. Each returns an empty string when the value is
// fine, else a problem description for a message. Descriptions never repeat the value of a URL,
// secret or header, since those may carry credentials.
// Error policy: never throws.
#pragma once

#include <string>
#include <string_view>

namespace sluice::config {

// Projection and webhook names become parts of SQL identifiers: [a-z_][a-z0-9_]*, at most
// max_name_length characters so that prefixed identifiers stay within PostgreSQL's 63.
inline constexpr std::size_t max_name_length = 48;
[[nodiscard]] std::string check_name(std::string_view name);

// A lower-case SQL identifier, optionally schema-qualified when qualified_ok (schema.table).
[[nodiscard]] std::string check_identifier(std::string_view name, bool qualified_ok);

// The schema a projection owns: a plain lower-case identifier that leaves room for the suffixes
// of its rebuild generations (`__next`, `__previous`, at most 63 characters with them), and none
// that PostgreSQL or sluice owns (`sluice`, `public`, `pg_*`, `information_schema`) or that ends
// in a generation's suffix (`__swap` is the one a rollback passes through). The events table's
// schema is checked where both are known.
inline constexpr std::size_t max_schema_length = 63 - 10;
[[nodiscard]] std::string check_schema(std::string_view schema);

// An absolute http:// or https:// URL with a host.
[[nodiscard]] std::string check_webhook_url(std::string_view url);

// A Standard Webhooks signing secret: "whsec_" followed by non-empty, padded base64.
[[nodiscard]] std::string check_secret(std::string_view secret);

// host:port, with [v6-address]:port for IPv6; port 0..65535 (0 asks for any free port). The
// host is an IP address or localhost: what the daemon can bind without resolving a name.
[[nodiscard]] std::string check_listen(std::string_view listen);

// An HTTP header a webhook may add: a token name that is not one sluice sets itself, and a value
// without line breaks.
[[nodiscard]] std::string check_header(std::string_view name, std::string_view value);

}  // namespace sluice::config
