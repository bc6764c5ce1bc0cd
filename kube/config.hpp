// Where the API server is and how to authenticate: in-cluster service-account
// configuration and kubeconfig files (several files merged as client-go does:
// for clusters, users and contexts the first file that defines a name wins;
// the first non-empty current-context wins). kube-api.md §5.
//
// The parsers here are pure: they take file texts and environment values and
// return a client_config or a message saying what is wrong. load_config()
// is the thin edge that reads the environment and the files.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube/error.hpp"

namespace herald::kube {

template <class T>
using config_result = herald::Result<T, parse_error>;

// users[].user.exec: a client.authentication.k8s.io/v1 credential plugin.
struct exec_config {
  std::string command;  // resolved against the kubeconfig's folder when it holds a '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string api_version = "client.authentication.k8s.io/v1";
  bool provide_cluster_info = false;
};

// The answer of an exec plugin (ExecCredential.status).
struct exec_credential {
  std::string token;
  std::string client_certificate_pem;
  std::string client_key_pem;
  // Unix seconds; nullopt = valid until a 401 says otherwise.
  std::optional<std::int64_t> expiration_unix;
};

struct server_address {
  std::string scheme = "https";  // "https" or "http"
  std::string host;              // without IPv6 brackets
  std::string port;              // default 443 / 80
  std::string path_prefix;       // e.g. "/k8s/clusters/c-1" for proxied servers; "" usually
  // "host:port" with brackets around IPv6 literals, for the Host header.
  std::string host_header() const;
};

struct client_config {
  server_address server;
  // TLS: the CA as PEM (from *-data) or a file path; empty both = system store.
  std::string ca_pem;
  std::string ca_file;
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // SNI and verified name; default: server.host
  std::string client_certificate_pem, client_certificate_file;
  std::string client_key_pem, client_key_file;
  // Authentication: a fixed token, a token file re-read at least once a
  // minute and after a 401, or an exec plugin.
  std::string token;
  std::string token_file;
  std::optional<exec_config> exec;
  std::string ns = "default";  // the context's namespace or the service account's
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds connect_timeout{10'000};
  // Requests (not watch streams) on the wire at once; the rest wait, in
  // order, for one to finish (client.hpp). Each is one connection: without
  // a bound, a burst (an agent annotating 3,000 Services after its first
  // plan) opened one connection per request, TLS handshake included.
  std::size_t max_requests_in_flight = 8;
};

// "https://[2001:db8::1]:6443/prefix" → parts. IPv6 hosts need brackets.
config_result<server_address> parse_server_url(std::string_view url);

struct kubeconfig_file {
  std::string path;  // relative file references are resolved against its folder
  std::string text;  // YAML (or JSON, which is YAML)
};

// Merges the files in order and resolves `context` (empty = current-context).
config_result<client_config> parse_kubeconfig(const std::vector<kubeconfig_file>& files,
                                              std::string_view context = "");

// In-cluster: server from KUBERNETES_SERVICE_HOST / _PORT (IPv6 bracketed),
// token and CA from the service-account folder. Files are not read here.
config_result<client_config> in_cluster_config(std::string_view service_host, std::string_view service_port,
                                               std::string_view service_account_dir);

// Parses a plugin's stdout: an ExecCredential of the configured apiVersion.
config_result<exec_credential> parse_exec_credential(std::string_view json_text, std::string_view api_version);

// RFC 3339 "2026-11-30T08:00:00Z" (fraction and offsets allowed) → Unix seconds.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

inline constexpr std::string_view default_service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";

// The edge: in cluster when KUBERNETES_SERVICE_HOST is set and no KUBECONFIG
// is given; else KUBECONFIG (':'-separated) or ~/.kube/config. Reads the
// files, the in-cluster namespace file and the CA/cert/key files named.
config_result<client_config> load_config(std::string_view context = "");

}  // namespace herald::kube
