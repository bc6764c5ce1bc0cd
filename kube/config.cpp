// kubeconfig and in-cluster configuration (config.hpp). yaml-cpp throws on
// malformed YAML; this is startup configuration, and every exception is
// turned into a message here so callers see one error channel.
#include "kube/config.hpp"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "kube/views.hpp"

namespace herald::kube {

namespace {

bool is_ipv6_literal(std::string_view host) { return host.find(':') != std::string_view::npos; }

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash == 0 ? 1 : slash);
}

// client-go resolves relative paths in a kubeconfig against the file's folder.
std::string resolve(const std::string& file_path, const std::string& ref) {
  if (ref.empty() || ref.front() == '/') return ref;
  return folder_of(file_path) + "/" + ref;
}

struct named_entry {
  YAML::Node node;
  std::string file;  // the file that defined it, for relative paths
};

std::string scalar(const YAML::Node& n, const char* key) {
  const YAML::Node v = n[key];
  if (!v || v.IsNull()) return {};
  if (!v.IsScalar()) throw YAML::Exception(v.Mark(), std::string(key) + " is not a scalar");
  return v.as<std::string>();
}

bool boolean(const YAML::Node& n, const char* key) {
  const YAML::Node v = n[key];
  return v && !v.IsNull() && v.as<bool>();
}

void collect(const YAML::Node& root, const char* list, const char* inner, const std::string& file,
             std::map<std::string, named_entry>& into) {
  const YAML::Node entries = root[list];
  if (!entries || entries.IsNull()) return;
  if (!entries.IsSequence()) throw YAML::Exception(entries.Mark(), std::string(list) + " is not a list");
  for (const auto& e : entries) {
    const std::string name = scalar(e, "name");
    if (name.empty()) continue;
    into.emplace(name, named_entry{e[inner], file});  // first definition wins
  }
}

// A *-data field: base64 of PEM.
config_result<bool> decode_data(const std::string& field, const std::string& b64, std::string& into) {
  auto decoded = base64_decode(b64);
  if (!decoded) return parse_error{field + ": not valid base64"};
  into = std::move(*decoded);
  return true;
}

}  // namespace

std::string server_address::host_header() const {
  const std::string h = is_ipv6_literal(host) ? "[" + host + "]" : host;
  const bool default_port = (scheme == "https" && port == "443") || (scheme == "http" && port == "80");
  return default_port ? h : h + ":" + port;
}

config_result<server_address> parse_server_url(std::string_view url) {
  server_address out;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return parse_error{std::string("server URL needs a scheme: ") + std::string(url)};
  out.scheme = std::string(url.substr(0, sep));
  if (out.scheme != "https" && out.scheme != "http") return parse_error{"unsupported scheme " + out.scheme};
  std::string_view rest = url.substr(sep + 3);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.path_prefix = std::string(rest.substr(slash));
  while (!out.path_prefix.empty() && out.path_prefix.back() == '/') out.path_prefix.pop_back();
  if (authority.empty()) return parse_error{std::string("server URL has no host: ") + std::string(url)};
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return parse_error{std::string("unclosed IPv6 bracket in ") + std::string(url)};
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return parse_error{std::string("junk after IPv6 host in ") + std::string(url)};
      out.port = std::string(after.substr(1));
    }
  } else {
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos && authority.find(':') != colon)
      return parse_error{std::string("IPv6 host needs brackets: ") + std::string(url)};
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty()) return parse_error{std::string("server URL has no host: ") + std::string(url)};
  if (out.port.empty()) out.port = out.scheme == "https" ? "443" : "80";
  for (char c : out.port)
    if (c < '0' || c > '9') return parse_error{"bad port " + out.port};
  return out;
}

config_result<client_config> parse_kubeconfig(const std::vector<kubeconfig_file>& files, std::string_view context) {
  try {
    std::map<std::string, named_entry> clusters, users, contexts;
    std::string current;
    for (const auto& f : files) {
      const YAML::Node root = YAML::Load(f.text);
      if (!root || root.IsNull()) continue;  // an empty file merges nothing
      if (!root.IsMap()) return parse_error{f.path + ": not a kubeconfig (top level is not a map)"};
      collect(root, "clusters", "cluster", f.path, clusters);
      collect(root, "users", "user", f.path, users);
      collect(root, "contexts", "context", f.path, contexts);
      if (current.empty()) current = scalar(root, "current-context");
    }
    const std::string wanted = context.empty() ? current : std::string(context);
    if (wanted.empty()) return parse_error{std::string("kubeconfig: no current-context and none given")};
    auto ctx = contexts.find(wanted);
    if (ctx == contexts.end()) return parse_error{"kubeconfig: context \"" + wanted + "\" not found"};
    const std::string cluster_name = scalar(ctx->second.node, "cluster");
    const std::string user_name = scalar(ctx->second.node, "user");
    auto cl = clusters.find(cluster_name);
    if (cl == clusters.end()) return parse_error{"kubeconfig: cluster \"" + cluster_name + "\" not found"};

    client_config cfg;
    const YAML::Node& c = cl->second.node;
    if (!c || !c.IsMap()) return parse_error{"kubeconfig: cluster \"" + cluster_name + "\" is empty"};
    auto server = parse_server_url(scalar(c, "server"));
    if (!server) return parse_error{"kubeconfig: cluster \"" + cluster_name + "\": " + server.error().text};
    cfg.server = *server;
    if (const auto data = scalar(c, "certificate-authority-data"); !data.empty()) {
      if (auto ok = decode_data("certificate-authority-data", data, cfg.ca_pem); !ok) return ok.error();
    } else {
      cfg.ca_file = resolve(cl->second.file, scalar(c, "certificate-authority"));
    }
    cfg.insecure_skip_tls_verify = boolean(c, "insecure-skip-tls-verify");
    cfg.tls_server_name = scalar(c, "tls-server-name");
    if (const auto ns = scalar(ctx->second.node, "namespace"); !ns.empty()) cfg.ns = ns;

    auto us = users.find(user_name);
    if (us != users.end() && us->second.node && us->second.node.IsMap()) {
      const YAML::Node& u = us->second.node;
      const std::string& file = us->second.file;
      if (const auto data = scalar(u, "client-certificate-data"); !data.empty()) {
        if (auto ok = decode_data("client-certificate-data", data, cfg.client_certificate_pem); !ok) return ok.error();
      } else {
        cfg.client_certificate_file = resolve(file, scalar(u, "client-certificate"));
      }
      if (const auto data = scalar(u, "client-key-data"); !data.empty()) {
        if (auto ok = decode_data("client-key-data", data, cfg.client_key_pem); !ok) return ok.error();
      } else {
        cfg.client_key_file = resolve(file, scalar(u, "client-key"));
      }
      cfg.token = scalar(u, "token");
      cfg.token_file = resolve(file, scalar(u, "tokenFile"));
      if (const YAML::Node e = u["exec"]; e && e.IsMap()) {
        exec_config ex;
        ex.command = scalar(e, "command");
        if (ex.command.find('/') != std::string::npos) ex.command = resolve(file, ex.command);
        if (const auto v = scalar(e, "apiVersion"); !v.empty()) ex.api_version = v;
        if (const YAML::Node args = e["args"]; args && args.IsSequence())
          for (const auto& a : args) ex.args.push_back(a.as<std::string>());
        if (const YAML::Node env = e["env"]; env && env.IsSequence())
          for (const auto& kv : env) ex.env.emplace_back(scalar(kv, "name"), scalar(kv, "value"));
        ex.provide_cluster_info = boolean(e, "provideClusterInfo");
        if (ex.command.empty()) return parse_error{"kubeconfig: user \"" + user_name + "\": exec without command"};
        if (ex.api_version != "client.authentication.k8s.io/v1" &&
            ex.api_version != "client.authentication.k8s.io/v1beta1")
          return parse_error{"kubeconfig: user \"" + user_name + "\": unsupported exec apiVersion " + ex.api_version};
        cfg.exec = std::move(ex);
      }
    } else if (!user_name.empty() && us == users.end()) {
      return parse_error{"kubeconfig: user \"" + user_name + "\" not found"};
    }
    if (cfg.client_certificate_pem.empty() && cfg.client_certificate_file.empty()) {
      if (!cfg.client_key_pem.empty() || !cfg.client_key_file.empty())
        return parse_error{std::string("kubeconfig: client key without client certificate")};
    }
    return cfg;
  } catch (const YAML::Exception& e) {
    return parse_error{std::string("kubeconfig: ") + e.what()};
  }
}

config_result<client_config> in_cluster_config(std::string_view service_host, std::string_view service_port,
                                               std::string_view service_account_dir) {
  if (service_host.empty() || service_port.empty())
    return parse_error{std::string("in cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")};
  const std::string host = is_ipv6_literal(service_host) ? "[" + std::string(service_host) + "]"
                                                          : std::string(service_host);
  auto server = parse_server_url("https://" + host + ":" + std::string(service_port));
  if (!server) return parse_error{"in cluster: " + server.error().text};
  client_config cfg;
  cfg.server = *server;
  const std::string dir(service_account_dir);
  cfg.token_file = dir + "/token";
  cfg.ca_file = dir + "/ca.crt";
  return cfg;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view t) {
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > t.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return std::nullopt;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') || t[13] != ':' || t[16] != ':')
    return std::nullopt;
  const auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *s > 60)
    return std::nullopt;
  std::size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
  }
  std::int64_t offset = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    const auto oh = num(pos + 1, 2), om = num(pos + 4, 2);
    if (!oh || !om || pos + 3 >= t.size() || t[pos + 3] != ':') return std::nullopt;
    offset = (t[pos] == '+' ? 1 : -1) * (*oh * 3600 + *om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != t.size()) return std::nullopt;
  // days_from_civil (Howard Hinnant's algorithm)
  const int yy = *y - (*mo <= 2 ? 1 : 0);
  const int era = yy / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (*mo + (*mo > 2 ? -3 : 9)) + 2) / 5 + *d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  return days * 86400 + *h * 3600 + *mi * 60 + *s - offset;
}

config_result<exec_credential> parse_exec_credential(std::string_view json_text, std::string_view api_version) {
  const auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return parse_error{std::string("exec plugin: output is not a JSON object")};
  const auto kind = j.value("kind", nlohmann::json()).is_string() ? j["kind"].get<std::string>() : "";
  const auto version = j.value("apiVersion", nlohmann::json()).is_string() ? j["apiVersion"].get<std::string>() : "";
  if (kind != "ExecCredential") return parse_error{"exec plugin: kind is \"" + kind + "\", not ExecCredential"};
  if (version != api_version) return parse_error{"exec plugin: apiVersion " + version + ", expected " + std::string(api_version)};
  const auto status = j.find("status");
  if (status == j.end() || !status->is_object()) return parse_error{std::string("exec plugin: no status")};
  exec_credential out;
  auto text = [&](const char* key, std::string& into) -> bool {
    auto it = status->find(key);
    if (it == status->end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    into = it->get<std::string>();
    return true;
  };
  std::string expiration;
  if (!text("token", out.token) || !text("clientCertificateData", out.client_certificate_pem) ||
      !text("clientKeyData", out.client_key_pem) || !text("expirationTimestamp", expiration))
    return parse_error{std::string("exec plugin: a status field is not a string")};
  if (out.token.empty() && (out.client_certificate_pem.empty() || out.client_key_pem.empty()))
    return parse_error{std::string("exec plugin: status has neither a token nor a client certificate and key")};
  if (!expiration.empty()) {
    out.expiration_unix = parse_rfc3339(expiration);
    if (!out.expiration_unix) return parse_error{"exec plugin: bad expirationTimestamp " + expiration};
  }
  return out;
}

namespace {
std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}
}  // namespace

config_result<client_config> load_config(std::string_view context) {
  const std::string kubeconfig = env_or_empty("KUBECONFIG");
  const std::string service_host = env_or_empty("KUBERNETES_SERVICE_HOST");
  if (kubeconfig.empty() && !service_host.empty()) {
    auto cfg = in_cluster_config(service_host, env_or_empty("KUBERNETES_SERVICE_PORT"), default_service_account_dir);
    if (!cfg) return cfg;
    if (auto ns = read_file(std::string(default_service_account_dir) + "/namespace"); ns && !ns->empty()) cfg->ns = *ns;
    return cfg;
  }
  std::vector<std::string> paths;
  if (!kubeconfig.empty()) {
    std::stringstream list(kubeconfig);
    for (std::string p; std::getline(list, p, ':');)
      if (!p.empty()) paths.push_back(p);
  } else {
    paths.push_back(env_or_empty("HOME") + "/.kube/config");
  }
  std::vector<kubeconfig_file> files;
  for (const auto& p : paths) {
    auto text = read_file(p);
    if (text) files.push_back({p, *text});  // client-go skips files that do not exist
  }
  if (files.empty()) return parse_error{std::string("no kubeconfig file readable and not in a cluster")};
  return parse_kubeconfig(files, context);
}

}  // namespace herald::kube
