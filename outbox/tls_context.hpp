// TLS for webhook delivery: one client context per webhook (trust anchors, optional client
// certificate for mTLS) and per-connection settings (SNI, peer host name verification).
// Verification is on unless config tls.verify is false.
// Error policy: unreadable CA/certificate/key files throw std::runtime_error naming the file
// (never its contents); per-connection setup never throws.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <string>

#include "config/config.hpp"

namespace sluice::outbox {

// Trust: tls.ca_file when set (replaces the system roots), the system roots otherwise.
[[nodiscard]] boost::asio::ssl::context make_client_context(const config::Tls& tls);

// SNI for host names (not for IP literals) and, when verify is on, OpenSSL's own host name or
// IP address check against the certificate's SAN (mismatches report "hostname mismatch").
void prepare_connection(SSL* ssl, const std::string& host, bool host_is_ip, bool verify);

// "certificate verify failed (unable to get local issuer certificate)" style text for a failed
// handshake: the SSL error plus the X.509 verification result when there is one.
[[nodiscard]] std::string describe_handshake_failure(SSL* ssl, const std::string& ssl_error);

}  // namespace sluice::outbox
