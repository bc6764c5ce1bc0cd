// Configuration parsing (kube/config.hpp): server URLs with IPv6, kubeconfig
// merging like client-go, CA / client certificate data and files, tokens,
// exec plugins and their ExecCredential output, in-cluster settings.
#include "kube/config.hpp"
#include "kube/views.hpp"
#include "result_catch.hpp"

using namespace herald::kube;

TEST_CASE("server URLs") {
  auto a = parse_server_url("https://[2001:db8::1]:6443");
  REQUIRE(a);
  CHECK(a->host == "2001:db8::1");
  CHECK(a->port == "6443");
  CHECK(a->host_header() == "[2001:db8::1]:6443");
  auto b = parse_server_url("https://api.example.test");
  REQUIRE(b);
  CHECK(b->port == "443");
  CHECK(b->host_header() == "api.example.test");
  auto c = parse_server_url("http://127.0.0.1:8080/k8s/clusters/c-1/");
  REQUIRE(c);
  CHECK(c->scheme == "http");
  CHECK(c->path_prefix == "/k8s/clusters/c-1");
  CHECK(c->host_header() == "127.0.0.1:8080");
  CHECK_FALSE(parse_server_url("https://2001:db8::1:6443"));
  CHECK_FALSE(parse_server_url("ftp://x"));
  CHECK_FALSE(parse_server_url("127.0.0.1:6443"));
  CHECK_FALSE(parse_server_url("https://[::1"));
  CHECK_FALSE(parse_server_url("https://h:port"));
}

TEST_CASE("in-cluster configuration") {
  auto v4 = in_cluster_config("10.96.0.1", "443", "/sa");
  REQUIRE(v4);
  CHECK(v4->server.host == "10.96.0.1");
  CHECK(v4->token_file == "/sa/token");
  CHECK(v4->ca_file == "/sa/ca.crt");
  auto v6 = in_cluster_config("fd00:10:96::1", "443", "/sa");
  REQUIRE(v6);
  CHECK(v6->server.host == "fd00:10:96::1");
  CHECK(v6->server.host_header() == "[fd00:10:96::1]");
  CHECK_FALSE(in_cluster_config("", "443", "/sa"));
}

namespace {
const char* first_file = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://[2001:db8::5]:6443
    certificate-authority: certs/ca.pem
    tls-server-name: api.dev.test
- name: shared
  cluster:
    server: https://first.test
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: herald-system}
users:
- name: dev-user
  user:
    client-certificate: /abs/client.pem
    client-key: client.key
    tokenFile: tok
)";
const char* second_file = R"(
current-context: other
clusters:
- name: shared
  cluster:
    server: https://second.test
    insecure-skip-tls-verify: true
- name: data-cluster
  cluster:
    server: http://127.0.0.1:8080
    certificate-authority-data: Q0EgUEVN
contexts:
- name: data
  context: {cluster: data-cluster, user: data-user}
- name: exec
  context: {cluster: shared, user: exec-user}
users:
- name: data-user
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
    token: static-token
- name: exec-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plugin.sh
      args: [--cluster, dev]
      env: [{name: MODE, value: test}]
      provideClusterInfo: true
)";
}  // namespace

TEST_CASE("kubeconfig files merge like client-go") {
  const std::vector<kubeconfig_file> files{{"/home/u/.kube/config", first_file}, {"/etc/k/second", second_file}};
  auto dev = parse_kubeconfig(files);
  REQUIRE(dev);  // current-context from the first file that sets one
  CHECK(dev->server.host == "2001:db8::5");
  CHECK(dev->ca_file == "/home/u/.kube/certs/ca.pem");
  CHECK(dev->tls_server_name == "api.dev.test");
  CHECK(dev->client_certificate_file == "/abs/client.pem");
  CHECK(dev->client_key_file == "/home/u/.kube/client.key");
  CHECK(dev->token_file == "/home/u/.kube/tok");
  CHECK(dev->ns == "herald-system");

  auto data = parse_kubeconfig(files, "data");
  REQUIRE(data);
  CHECK(data->server.scheme == "http");
  CHECK(data->ca_pem == "CA PEM");
  CHECK(data->client_certificate_pem == "CERT");
  CHECK(data->client_key_pem == "KEY");
  CHECK(data->token == "static-token");
  CHECK(data->ns == "default");

  auto ex = parse_kubeconfig(files, "exec");
  REQUIRE(ex);
  CHECK(ex->server.host == "first.test");  // first definition of "shared" wins
  CHECK_FALSE(ex->insecure_skip_tls_verify);
  REQUIRE(ex->exec);
  CHECK(ex->exec->command == "/etc/k/./plugin.sh");
  CHECK(ex->exec->args == std::vector<std::string>{"--cluster", "dev"});
  REQUIRE(ex->exec->env.size() == 1);
  CHECK(ex->exec->env[0].second == "test");
  CHECK(ex->exec->provide_cluster_info);

  // Reversed order: the second file's context and cluster win.
  auto reversed = parse_kubeconfig({files[1], files[0]}, "exec");
  REQUIRE(reversed);
  CHECK(reversed->server.host == "second.test");
  CHECK(reversed->insecure_skip_tls_verify);
}

TEST_CASE("kubeconfig errors are messages, not exceptions") {
  CHECK_FALSE(parse_kubeconfig({{"x", "current-context: nope\n"}}));
  CHECK_FALSE(parse_kubeconfig({{"x", "[1, 2"}}));
  CHECK_FALSE(parse_kubeconfig({{"x", "- a\n- b\n"}}));
  CHECK_FALSE(parse_kubeconfig({{"x", first_file}}, "missing"));
  CHECK_FALSE(parse_kubeconfig({}));
  const char* bad_data = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h", certificate-authority-data: "!!"}}]
contexts: [{name: c, context: {cluster: k}}]
)";
  auto r = parse_kubeconfig({{"x", bad_data}});
  REQUIRE_FALSE(r);
  CHECK(r.error().text.find("certificate-authority-data") != std::string::npos);
  const char* bad_exec = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}}}]
)";
  CHECK_FALSE(parse_kubeconfig({{"x", bad_exec}}));
  const char* clusters_scalar = "current-context: c\nclusters: 5\n";
  CHECK_FALSE(parse_kubeconfig({{"x", clusters_scalar}}));
}

TEST_CASE("ExecCredential output") {
  const std::string v1 = "client.authentication.k8s.io/v1";
  auto ok = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
          "status":{"token":"abc","expirationTimestamp":"2026-11-30T09:00:00Z"}})",
      v1);
  REQUIRE(ok);
  CHECK(ok->token == "abc");
  CHECK(ok->expiration_unix == 1796029200);
  auto cert = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
          "status":{"clientCertificateData":"C","clientKeyData":"K"}})",
      v1);
  REQUIRE(cert);
  CHECK_FALSE(cert->expiration_unix);
  CHECK_FALSE(parse_exec_credential("not json", v1));
  CHECK_FALSE(parse_exec_credential(R"({"apiVersion":"v1","kind":"ExecCredential","status":{"token":"a"}})", v1));
  CHECK_FALSE(parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})", v1));
  CHECK_FALSE(parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":5}})", v1));
}

TEST_CASE("RFC 3339 times") {
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_rfc3339("2026-11-30T09:00:00.123456Z") == 1796029200);
  CHECK(parse_rfc3339("2026-11-30T10:00:00+01:00") == 1796029200);
  CHECK_FALSE(parse_rfc3339("2026-11-30 09:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-13-30T09:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-11-30T09:00:00"));
}
