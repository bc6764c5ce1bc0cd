// Token file re-reading and exec credential plugins (credentials.hpp).
#include "kube/credentials.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "kube/views.hpp"

extern char** environ;

namespace herald::kube {

credentials::credentials(const client_config& cfg)
    : static_token_(cfg.token), cfg_token_file_(cfg.token_file), exec_(cfg.exec), ca_pem_(cfg.ca_pem) {
  server_url_ = cfg.server.scheme + "://" + cfg.server.host_header() + cfg.server.path_prefix;
}

result<std::string> credentials::token(clock::time_point now) {
  if (!cfg_token_file_.empty()) {
    if (stale_ || now - read_at_ >= file_refresh) {
      std::ifstream in(cfg_token_file_);
      std::stringstream s;
      if (in) s << in.rdbuf();
      std::string text = s.str();
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
      if (!in || text.empty()) {
        // Keep using the last token: a rotation may be half-written.
        if (token_.empty()) return client_error("Credentials", "cannot read token file " + cfg_token_file_);
        spdlog::warn("kube: token file {} unreadable, keeping the previous token", cfg_token_file_);
      } else {
        if (text != token_ && !token_.empty()) spdlog::info("kube: token file {} changed", cfg_token_file_);
        token_ = std::move(text);
      }
      read_at_ = now;
      stale_ = false;
    }
    return token_;
  }
  if (exec_) {
    const auto unix_now = static_cast<std::int64_t>(std::time(nullptr));
    if (stale_ || (expires_unix_ && unix_now >= *expires_unix_)) {
      if (auto r = run_plugin(); !r) return r.error();
      stale_ = false;
    }
    return token_.empty() ? static_token_ : token_;
  }
  return static_token_;
}

result<void> credentials::run_plugin() {
  auto cred = run_exec_plugin(*exec_, server_url_, ca_pem_, std::chrono::seconds(30));
  if (!cred) return client_error("Credentials", cred.error().text);
  token_ = cred->token;
  expires_unix_ = cred->expiration_unix;
  if (cred->client_certificate_pem != exec_cert_ || cred->client_key_pem != exec_key_) {
    exec_cert_ = cred->client_certificate_pem;
    exec_key_ = cred->client_key_pem;
    ++tls_generation_;
  }
  return {};
}

config_result<exec_credential> run_exec_plugin(const exec_config& exec, const std::string& server_url,
                                               const std::string& ca_pem, std::chrono::seconds timeout) {
  nlohmann::json info = {{"apiVersion", exec.api_version},
                         {"kind", "ExecCredential"},
                         {"spec", {{"interactive", false}}}};
  if (exec.provide_cluster_info) {
    info["spec"]["cluster"] = {{"server", server_url}};
    if (!ca_pem.empty()) info["spec"]["cluster"]["certificate-authority-data"] = base64_encode(ca_pem);
  }
  // Everything the child needs is built before fork: only async-signal-safe calls after it.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("KUBERNETES_EXEC_INFO=" + info.dump());
  for (const auto& [k, v] : exec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> arg_strings{exec.command};
  arg_strings.insert(arg_strings.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> argv;
  for (auto& s : arg_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return parse_error{"exec plugin: pipe failed"};
  const pid_t pid = fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    return parse_error{"exec plugin: fork failed"};
  }
  if (pid == 0) {
    dup2(out[1], 1);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<std::size_t>(n));
  }
  close(out[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return parse_error{"exec plugin " + exec.command + ": timed out"};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return parse_error{"exec plugin " + exec.command + ": exited with status " + std::to_string(WEXITSTATUS(status))};
  return parse_exec_credential(output, exec.api_version);
}

}  // namespace herald::kube
