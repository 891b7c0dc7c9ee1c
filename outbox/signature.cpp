#include "outbox/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace sluice::outbox {
namespace {

constexpr std::string_view secret_prefix = "whsec_";
constexpr std::string_view version_prefix = "v1,";

std::string hmac_sha256(std::string_view key, std::string_view msg_id, std::int64_t timestamp,
                        std::string_view body) {
    std::string content;
    content.reserve(msg_id.size() + body.size() + 24);
    content.append(msg_id).append(".").append(std::to_string(timestamp)).append(".").append(body);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac,
             &mac_len) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool base64_decode(std::string_view text, std::string& out) {
    if (text.size() % 4 != 0)
        return false;
    for (char c : text) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || c == '=';
        if (!ok)
            return false;
    }
    std::string buf(3 * (text.size() / 4), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                            reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(text.size()));
    if (n < 0)
        return false;
    // EVP_DecodeBlock counts the padding as zero bytes; drop them.
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=')
        ++padding;
    if (text.size() >= 2 && text[text.size() - 2] == '=')
        ++padding;
    buf.resize(static_cast<std::size_t>(n) - padding);
    out = std::move(buf);
    return true;
}

std::string decode_secret(std::string_view secret) {
    if (secret.starts_with(secret_prefix))
        secret.remove_prefix(secret_prefix.size());
    std::string key;
    if (secret.empty() || !base64_decode(secret, key) || key.empty()) {
        throw std::invalid_argument("webhook secret is not whsec_ followed by base64");
    }
    return key;
}

std::string sign(std::string_view msg_id, std::int64_t timestamp, std::string_view body,
                 const std::vector<std::string>& secrets) {
    std::string header;
    for (const auto& secret : secrets) {
        if (!header.empty())
            header += ' ';
        header += version_prefix;
        header += base64_encode(hmac_sha256(decode_secret(secret), msg_id, timestamp, body));
    }
    return header;
}

bool verify(std::string_view msg_id, std::int64_t timestamp, std::string_view body,
            std::string_view signature_header, const std::vector<std::string>& secrets) {
    std::vector<std::string> expected;
    try {
        for (const auto& secret : secrets) {
            expected.push_back(hmac_sha256(decode_secret(secret), msg_id, timestamp, body));
        }
    } catch (const std::exception&) {
        return false;
    }
    while (!signature_header.empty()) {
        auto space = signature_header.find(' ');
        auto entry = signature_header.substr(0, space);
        signature_header.remove_prefix(space == std::string_view::npos ? signature_header.size()
                                                                       : space + 1);
        if (!entry.starts_with(version_prefix))
            continue;
        std::string mac;
        if (!base64_decode(entry.substr(version_prefix.size()), mac))
            continue;
        for (const auto& want : expected) {
            if (mac.size() == want.size() &&
                CRYPTO_memcmp(mac.data(), want.data(), mac.size()) == 0) {
                return true;
            }
        }
    }
    return false;
}

}  // namespace sluice::outbox
