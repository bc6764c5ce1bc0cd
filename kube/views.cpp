// Parsing of the typed views (views.hpp). Every field read goes through
// json_reader, so a wrong type anywhere becomes an error naming the field.
#include "kube/views.hpp"

#include <array>

#include "kube/json_reader.hpp"

namespace herald::kube {

using nlohmann::json;
using detail::json_reader;

namespace {

void read_meta(json_reader& r, const json& object, object_meta& m) {
  if (!object.is_object()) return r.fail("object", "not an object");
  const json* meta = r.object(object, "metadata", "");
  if (!meta) return r.fail("metadata", "missing");
  r.get(*meta, "namespace", m.ns, "metadata");
  r.get(*meta, "name", m.name, "metadata");
  r.get(*meta, "uid", m.uid, "metadata");
  r.get(*meta, "resourceVersion", m.resource_version, "metadata");
  r.get(*meta, "generation", m.generation, "metadata");
  r.get(*meta, "creationTimestamp", m.creation_timestamp, "metadata");
  std::string deletion;
  r.get(*meta, "deletionTimestamp", deletion, "metadata");
  m.deleting = !deletion.empty();
  r.get(*meta, "labels", m.labels, "metadata");
  r.get(*meta, "annotations", m.annotations, "metadata");
  if (r.ok() && m.name.empty()) r.fail("metadata.name", "missing");
}

// int-or-string fields (targetPort) kept as their text.
void read_int_or_string(json_reader& r, const json& parent, const char* key, std::string& out, const std::string& path) {
  const json* v = r.member(parent, key, path);
  if (!v) return;
  if (v->is_number_integer()) out = std::to_string(v->get<std::int64_t>());
  else if (v->is_string()) out = v->get<std::string>();
  else r.fail(json_reader::join(path, key), "not an integer or string");
}

template <class T, class F>
parse_result<T> parse_with(const json& object, F&& body) {
  json_reader r;
  T out;
  read_meta(r, object, out.meta);
  if (r.ok()) body(r, out);
  if (!r.ok()) return parse_error{r.error()};
  return out;
}

}  // namespace

bool operator==(const ingress_port& a, const ingress_port& b) {
  return a.port == b.port && a.protocol == b.protocol && a.error == b.error;
}

parse_result<object_meta> parse_meta(const json& object) {
  json_reader r;
  object_meta m;
  read_meta(r, object, m);
  if (!r.ok()) return parse_error{r.error()};
  return m;
}

std::string describe_object(const json& object) {
  std::string ns = "?", name = "?";
  if (object.is_object()) {
    auto meta = object.find("metadata");
    if (meta != object.end() && meta->is_object()) {
      auto n = meta->find("namespace");
      if (n != meta->end() && n->is_string()) ns = n->get<std::string>();
      auto nm = meta->find("name");
      if (nm != meta->end() && nm->is_string()) name = nm->get<std::string>();
    }
  }
  return ns + "/" + name;
}

parse_result<service> service::parse(const json& object) {
  return parse_with<service>(object, [&](json_reader& r, service& s) {
    if (const json* spec = r.object(object, "spec", "")) {
      r.get(*spec, "type", s.type, "spec");
      r.get(*spec, "loadBalancerClass", s.load_balancer_class, "spec");
      r.get(*spec, "externalTrafficPolicy", s.external_traffic_policy, "spec");
      r.get(*spec, "ipFamilies", s.ip_families, "spec");
      r.get(*spec, "ipFamilyPolicy", s.ip_family_policy, "spec");
      r.get(*spec, "clusterIPs", s.cluster_ips, "spec");
      r.get(*spec, "loadBalancerIP", s.load_balancer_ip, "spec");
      r.get(*spec, "healthCheckNodePort", s.health_check_node_port, "spec");
      r.each(*spec, "ports", "spec", [&](const json& p, const std::string& path) {
        service_port port;
        r.get(p, "name", port.name, path);
        r.get(p, "protocol", port.protocol, path);
        r.get(p, "port", port.port, path);
        read_int_or_string(r, p, "targetPort", port.target_port, path);
        r.get(p, "nodePort", port.node_port, path);
        r.get(p, "appProtocol", port.app_protocol, path);
        s.ports.push_back(std::move(port));
      });
    }
    const json* status = r.object(object, "status", "");
    const json* lb = status ? r.object(*status, "loadBalancer", "status") : nullptr;
    if (!lb) return;
    r.each(*lb, "ingress", "status.loadBalancer", [&](const json& i, const std::string& path) {
      load_balancer_ingress in;
      r.get(i, "ip", in.ip, path);
      r.get(i, "hostname", in.hostname, path);
      r.get(i, "ipMode", in.ip_mode, path);
      r.each(i, "ports", path, [&](const json& p, const std::string& ppath) {
        ingress_port port;
        r.get(p, "port", port.port, ppath);
        r.get(p, "protocol", port.protocol, ppath);
        r.get(p, "error", port.error, ppath);
        in.ports.push_back(std::move(port));
      });
      s.ingress.push_back(std::move(in));
    });
  });
}

std::string endpoint_slice::service_name() const {
  auto it = meta.labels.find(service_name_label);
  return it == meta.labels.end() ? std::string() : it->second;
}

parse_result<endpoint_slice> endpoint_slice::parse(const json& object) {
  return parse_with<endpoint_slice>(object, [&](json_reader& r, endpoint_slice& s) {
    r.get(object, "addressType", s.address_type, "");
    r.each(object, "endpoints", "", [&](const json& e, const std::string& path) {
      endpoint ep;
      r.get(e, "addresses", ep.addresses, path);
      r.get(e, "nodeName", ep.node_name, path);
      r.get(e, "zone", ep.zone, path);
      if (const json* c = r.object(e, "conditions", path)) {
        const std::string cpath = path + ".conditions";
        r.get(*c, "ready", ep.conditions.ready, cpath);
        r.get(*c, "serving", ep.conditions.serving, cpath);
        r.get(*c, "terminating", ep.conditions.terminating, cpath);
      }
      s.endpoints.push_back(std::move(ep));
    });
    r.each(object, "ports", "", [&](const json& p, const std::string& path) {
      endpoint_port port;
      r.get(p, "name", port.name, path);
      r.get(p, "protocol", port.protocol, path);
      r.get(p, "port", port.port, path);
      s.ports.push_back(std::move(port));
    });
  });
}

bool node::ready() const {
  for (const auto& c : conditions)
    if (c.type == "Ready") return c.status == "True";
  return false;
}

parse_result<node> node::parse(const json& object) {
  return parse_with<node>(object, [&](json_reader& r, node& n) {
    if (const json* spec = r.object(object, "spec", "")) {
      r.get(*spec, "unschedulable", n.unschedulable, "spec");
      r.get(*spec, "podCIDRs", n.pod_cidrs, "spec");
    }
    const json* status = r.object(object, "status", "");
    if (!status) return;
    r.each(*status, "addresses", "status", [&](const json& a, const std::string& path) {
      node_address addr;
      r.get(a, "type", addr.type, path);
      r.get(a, "address", addr.address, path);
      n.addresses.push_back(std::move(addr));
    });
    r.each(*status, "conditions", "status", [&](const json& c, const std::string& path) {
      node_condition cond;
      r.get(c, "type", cond.type, path);
      r.get(c, "status", cond.status, path);
      r.get(c, "reason", cond.reason, path);
      n.conditions.push_back(std::move(cond));
    });
  });
}

parse_result<lease> lease::parse(const json& object) {
  return parse_with<lease>(object, [&](json_reader& r, lease& l) {
    const json* spec = r.object(object, "spec", "");
    if (!spec) return;
    r.get(*spec, "holderIdentity", l.holder_identity, "spec");
    r.get(*spec, "leaseDurationSeconds", l.lease_duration_seconds, "spec");
    r.get(*spec, "acquireTime", l.acquire_time, "spec");
    r.get(*spec, "renewTime", l.renew_time, "spec");
    r.get(*spec, "leaseTransitions", l.lease_transitions, "spec");
  });
}

parse_result<secret> secret::parse(const json& object) {
  return parse_with<secret>(object, [&](json_reader& r, secret& s) {
    r.get(object, "type", s.type, "");
    string_map encoded;
    r.get(object, "data", encoded, "");
    for (const auto& [k, v] : encoded) {
      auto decoded = base64_decode(v);
      if (!decoded) return r.fail("data." + k, "not base64");
      s.data[k] = std::move(*decoded);
    }
    string_map plain;
    r.get(object, "stringData", plain, "");
    for (auto& [k, v] : plain) s.data[k] = std::move(v);
  });
}

parse_result<custom_resource> custom_resource::parse(const json& object) {
  return parse_with<custom_resource>(object, [&](json_reader& r, custom_resource& c) {
    r.get(object, "apiVersion", c.api_version, "");
    r.get(object, "kind", c.kind, "");
    if (const json* spec = r.object(object, "spec", "")) c.spec = *spec;
    if (const json* status = r.object(object, "status", "")) c.status = *status;
  });
}

namespace {
constexpr std::string_view b64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::array<int, 256> value{};
  value.fill(-1);
  for (std::size_t i = 0; i < b64_alphabet.size(); ++i) value[static_cast<unsigned char>(b64_alphabet[i])] = static_cast<int>(i);
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char ch = in[i + static_cast<std::size_t>(k)];
      const bool last_group = i + 4 == in.size();
      if (ch == '=' && last_group && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[k] = value[static_cast<unsigned char>(ch)];
      if (v[k] < 0) return std::nullopt;
    }
    const unsigned triple = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                            (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    // The bits the padding leaves over must be zero (RFC 4648 §3.5): "946="
    // and "944=" would otherwise both decode to the same two bytes, and the
    // text would not be the one encoding of them Kubernetes writes.
    if ((pad == 1 && (triple & 0xff) != 0) || (pad == 2 && (triple & 0xffff) != 0)) return std::nullopt;
    out.push_back(static_cast<char>((triple >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((triple >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(triple & 0xff));
  }
  return out;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, in.size() - i);
    unsigned triple = 0;
    for (std::size_t k = 0; k < 3; ++k)
      triple = (triple << 8) | (k < n ? static_cast<unsigned char>(in[i + k]) : 0u);
    for (std::size_t k = 0; k < 4; ++k)
      out.push_back(k <= n ? b64_alphabet[(triple >> (18 - 6 * k)) & 0x3f] : '=');
  }
  return out;
}

}  // namespace herald::kube
