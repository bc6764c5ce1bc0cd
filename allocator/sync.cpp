// The controller's write decisions (sync.hpp).
#include "allocator/sync.hpp"

#include <algorithm>

namespace herald::allocator {

using json = nlohmann::json;

service_view view_of(const kube::service& s) {
  service_view v;
  v.ns = s.meta.ns;
  v.name = s.meta.name;
  v.uid = s.meta.uid;
  v.creation_timestamp = s.meta.creation_timestamp;
  v.type = s.type;
  v.load_balancer_class = s.load_balancer_class;
  v.annotations.insert(s.meta.annotations.begin(), s.meta.annotations.end());
  for (const auto& p : s.ports)
    if (p.port >= 1 && p.port <= 65535) v.ports.push_back({p.protocol, static_cast<std::uint16_t>(p.port)});
  v.ip_families = s.ip_families;
  v.ip_family_policy = s.ip_family_policy;
  v.load_balancer_ip = s.load_balancer_ip;
  for (const auto& in : s.ingress)
    if (!in.ip.empty()) v.ingress_ips.push_back(in.ip);
  return v;
}

service_group_input group_input_of(const kube::custom_resource& g) {
  return {g.meta.name, g.meta.creation_timestamp, g.spec};
}

bool group_input_changed(const kube::custom_resource& before, const kube::custom_resource& after) {
  return before.spec != after.spec || before.meta.creation_timestamp != after.meta.creation_timestamp ||
         before.meta.uid != after.meta.uid;
}

service_target target_of(const service_decision& d) {
  return {d.ingress_ips, d.annotations};
}

service_writes writes_needed(const service_target& target, const kube::service& current) {
  service_writes w;
  for (const auto& [name, value] : target.annotations) {
    auto it = current.meta.annotations.find(name);
    bool differs = value ? (it == current.meta.annotations.end() || it->second != *value)
                         : it != current.meta.annotations.end();
    if (differs) w.annotations[name] = value;
  }
  std::vector<std::string> ips;
  for (const auto& in : current.ingress)
    if (!in.ip.empty()) ips.push_back(in.ip);
  // An entry we did not write (a hostname, ipMode Proxy) is replaced too:
  // the ingress list is ours once the Service is.
  bool foreign = std::any_of(current.ingress.begin(), current.ingress.end(), [](const kube::load_balancer_ingress& in) {
    return in.ip.empty() || (!in.ip_mode.empty() && in.ip_mode != "VIP");
  });
  if (ips != target.ingress_ips || (foreign && !target.ingress_ips.empty())) w.ingress = target.ingress_ips;
  w.status_first = w.ingress && w.ingress->empty();
  return w;
}

std::optional<json> group_status_update(const group_status& s, const json& current, const std::string& now) {
  static const std::vector<std::string> fields = {"poolType", "v4Size", "v4InUse", "v6Size", "v6InUse"};
  return kube::status_update(group_status_patch(s)["status"], current, fields, now);
}

}  // namespace herald::allocator
