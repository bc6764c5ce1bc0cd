// Bearer tokens and client certificates for requests (kube-api.md §5): a
// fixed token, a token file (projected service-account tokens rotate about
// hourly: re-read at least once a minute and after a 401, as client-go does),
// or an exec credential plugin (client.authentication.k8s.io/v1), re-run when
// its credential expires or after a 401.
//
// Runs on the client's io_context thread. Running an exec plugin blocks that
// thread for as long as the plugin runs (bounded by a timeout); it happens at
// start, on expiry and after a 401 only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "kube/config.hpp"
#include "kube/error.hpp"

namespace herald::kube {

class credentials {
 public:
  using clock = std::chrono::steady_clock;

  explicit credentials(const client_config& cfg);

  // The token to send now ("" = none). Fails when the token file cannot be
  // read and no earlier token is known, or when the plugin fails.
  result<std::string> token(clock::time_point now);
  // A 401 arrived: the next token() re-reads the file or re-runs the plugin.
  void invalidate() { stale_ = true; }
  // Whether invalidate() can bring a different token (a file or a plugin).
  bool refreshable() const { return !cfg_token_file_.empty() || exec_.has_value(); }

  // Client certificate and key from an exec plugin ("" if none); the
  // generation changes whenever they do, so the client rebuilds its TLS context.
  const std::string& exec_certificate_pem() const { return exec_cert_; }
  const std::string& exec_key_pem() const { return exec_key_; }
  unsigned tls_generation() const { return tls_generation_; }

  std::chrono::seconds file_refresh{60};

 private:
  result<void> run_plugin();

  std::string static_token_;
  std::string cfg_token_file_;
  std::optional<exec_config> exec_;
  std::string server_url_;
  std::string ca_pem_;
  std::string token_;
  clock::time_point read_at_{};
  bool stale_ = true;
  std::optional<std::int64_t> expires_unix_;
  std::string exec_cert_, exec_key_;
  unsigned tls_generation_ = 0;
};

// Runs a plugin and parses its ExecCredential (config.hpp). Blocking; the
// plugin is killed after `timeout`.
config_result<exec_credential> run_exec_plugin(const exec_config& exec, const std::string& server_url,
                                               const std::string& ca_pem, std::chrono::seconds timeout);

}  // namespace herald::kube
