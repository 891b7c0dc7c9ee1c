#include "outbox/tls_context.hpp"

#include <openssl/x509_vfy.h>

#include <stdexcept>

namespace sluice::outbox {

namespace ssl = boost::asio::ssl;

boost::asio::ssl::context make_client_context(const config::Tls& tls) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (!tls.ca_file.empty()) {
        ctx.load_verify_file(tls.ca_file, ec);
        if (ec)
            throw std::runtime_error("tls ca_file " + tls.ca_file + ": " + ec.message());
    } else {
        ctx.set_default_verify_paths(ec);
        if (ec)
            throw std::runtime_error("tls: cannot load the system trust store: " + ec.message());
    }
    if (!tls.client_cert.empty() || !tls.client_key.empty()) {
        if (tls.client_cert.empty() || tls.client_key.empty()) {
            throw std::runtime_error("tls: client_cert and client_key must be given together");
        }
        ctx.use_certificate_chain_file(tls.client_cert, ec);
        if (ec)
            throw std::runtime_error("tls client_cert " + tls.client_cert + ": " + ec.message());
        ctx.use_private_key_file(tls.client_key, ssl::context::pem, ec);
        if (ec)
            throw std::runtime_error("tls client_key " + tls.client_key + ": " + ec.message());
    }
    ctx.set_verify_mode(tls.verify ? ssl::verify_peer : ssl::verify_none);
    return ctx;
}

void prepare_connection(SSL* ssl, const std::string& host, bool host_is_ip, bool verify) {
    if (!host_is_ip)
        SSL_set_tlsext_host_name(ssl, host.c_str());
    if (!verify)
        return;
    if (host_is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(ssl, host.c_str());
    }
}

std::string describe_handshake_failure(SSL* ssl, const std::string& ssl_error) {
    long result = SSL_get_verify_result(ssl);
    if (result == X509_V_OK)
        return ssl_error;
    return ssl_error + " (" + X509_verify_cert_error_string(result) + ")";
}

}  // namespace sluice::outbox
