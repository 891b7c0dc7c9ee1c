// Test-time PKI: a CA, a server certificate for localhost/127.0.0.1, a server certificate for
// another name, and a client certificate, generated with the openssl CLI into a temp dir that
// is removed again. Throws std::runtime_error (failing the test) when openssl fails.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace sluice::testing {

class TlsFiles {
  public:
    TlsFiles() {
        char pattern[] = "/tmp/sluice-tls.XXXXXX";
        if (!mkdtemp(pattern))
            throw std::runtime_error("mkdtemp failed");
        dir_ = pattern;
        run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
            "-keyout ca.key -out ca.pem -days 2 -subj '/CN=sluice test CA'");
        issue("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
        issue("wrong", "/CN=wrong.example", "subjectAltName=DNS:wrong.example");
        issue("client", "/CN=sluice-client", "extendedKeyUsage=clientAuth");
    }
    TlsFiles(const TlsFiles&) = delete;
    TlsFiles& operator=(const TlsFiles&) = delete;
    ~TlsFiles() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    [[nodiscard]] std::string path(const std::string& name) const { return dir_ + "/" + name; }
    [[nodiscard]] std::string ca() const { return path("ca.pem"); }

  private:
    void run(const std::string& command) const {
        std::string full = "cd '" + dir_ + "' && " + command + " >openssl.log 2>&1";
        if (std::system(full.c_str()) != 0) {
            throw std::runtime_error("openssl failed: " + command);
        }
    }
    void issue(const std::string& name, const std::string& subject,
               const std::string& extension) const {
        std::ofstream(path(name + ".ext")) << extension << "\n";
        run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
            ".key -out " + name + ".csr -subj '" + subject + "'");
        run("openssl x509 -req -in " + name +
            ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " + name +
            ".pem -days 2 -extfile " + name + ".ext");
    }

    std::string dir_;
};

}  // namespace sluice::testing
