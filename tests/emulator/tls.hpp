// Test PKI for the emulator's optional TLS: a self-signed CA (EC P-256) and a
// server certificate it signs for 127.0.0.1, ::1, localhost and any extra
// names, plus a client certificate (CN=herald-test, O=system:masters) for
// kubeconfigs that use client-certificate auth. PEM strings; nothing is read
// from disk.
#pragma once

#include <string>
#include <vector>

namespace herald::emulator {

struct test_pki {
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;
};

// Throws std::runtime_error if OpenSSL fails (startup only).
test_pki generate_test_pki(const std::vector<std::string>& extra_names);

}  // namespace herald::emulator
