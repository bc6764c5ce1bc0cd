// Service objects (JSON from the API server) → service_view, and decisions →
// JSON merge patches. Reads untrusted JSON: never throws, wrong types are
// errors naming the field.
#include "allocator/service.hpp"

namespace herald::allocator {

using json = nlohmann::json;

namespace {

const json* field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

// Copies a string field if present; false (with `error` set) if it has another type.
bool read_string(const json& j, const char* key, std::string& out, const std::string& path, std::string& error) {
  const json* v = field(j, key);
  if (v == nullptr) return true;
  if (!v->is_string()) {
    error = path + key + ": must be a string";
    return false;
  }
  out = v->get<std::string>();
  return true;
}

}  // namespace

Result<service_view, std::string> service_view_from_json(const json& object) {
  // service_view is an aggregate that starts with a string, so a bare string
  // would be ambiguous between value and error: errors go through fail().
  auto fail = [](std::string why) {
    return Result<service_view, std::string>(boost::system::in_place_error, std::move(why));
  };
  service_view v;
  std::string error;
  const json empty = json::object();
  const json* meta = field(object, "metadata");
  const json* spec = field(object, "spec");
  if (meta == nullptr || !meta->is_object()) return fail(std::string("Service: metadata is missing"));
  if (spec == nullptr) spec = &empty;
  if (!read_string(*meta, "namespace", v.ns, "metadata.", error) ||
      !read_string(*meta, "name", v.name, "metadata.", error) ||
      !read_string(*meta, "uid", v.uid, "metadata.", error) ||
      !read_string(*meta, "creationTimestamp", v.creation_timestamp, "metadata.", error) ||
      !read_string(*spec, "type", v.type, "spec.", error) ||
      !read_string(*spec, "ipFamilyPolicy", v.ip_family_policy, "spec.", error) ||
      !read_string(*spec, "loadBalancerIP", v.load_balancer_ip, "spec.", error))
    return fail(error);
  if (v.name.empty()) return fail(std::string("Service: metadata.name is missing"));
  if (v.type.empty()) v.type = "ClusterIP";
  if (const json* c = field(*spec, "loadBalancerClass")) {
    if (!c->is_string()) return fail(std::string("spec.loadBalancerClass: must be a string"));
    v.load_balancer_class = c->get<std::string>();
  }
  if (const json* a = field(*meta, "annotations")) {
    if (!a->is_object()) return fail(std::string("metadata.annotations: must be an object"));
    for (auto& [k, value] : a->items()) {
      if (!value.is_string()) return fail("metadata.annotations." + k + ": must be a string");
      v.annotations[k] = value.get<std::string>();
    }
  }
  if (const json* ports = field(*spec, "ports")) {
    if (!ports->is_array()) return fail(std::string("spec.ports: must be a list"));
    for (std::size_t i = 0; i < ports->size(); ++i) {
      const json& p = (*ports)[i];
      std::string path = "spec.ports[" + std::to_string(i) + "].";
      service_port sp;
      if (!read_string(p, "protocol", sp.protocol, path, error)) return fail(error);
      const json* port = field(p, "port");
      if (port == nullptr || !port->is_number_integer() || port->get<long long>() < 1 || port->get<long long>() > 65535)
        return fail(path + "port: must be an integer from 1 to 65535");
      sp.port = static_cast<std::uint16_t>(port->get<long long>());
      v.ports.push_back(std::move(sp));
    }
  }
  if (const json* families = field(*spec, "ipFamilies")) {
    if (!families->is_array()) return fail(std::string("spec.ipFamilies: must be a list"));
    for (auto& f : *families) {
      if (!f.is_string()) return fail(std::string("spec.ipFamilies: must be a list of strings"));
      v.ip_families.push_back(f.get<std::string>());
    }
  }
  const json* status = field(object, "status");
  const json* lb = status ? field(*status, "loadBalancer") : nullptr;
  if (const json* ingress = lb ? field(*lb, "ingress") : nullptr) {
    if (!ingress->is_array()) return fail(std::string("status.loadBalancer.ingress: must be a list"));
    for (auto& entry : *ingress) {
      std::string ip;
      if (!read_string(entry, "ip", ip, "status.loadBalancer.ingress[].", error)) return fail(error);
      if (!ip.empty()) v.ingress_ips.push_back(std::move(ip));
    }
  }
  return v;
}

json annotations_patch(const service_decision& d) {
  json annotations = json::object();
  for (auto& [name, value] : d.annotations) annotations[name] = value ? json(*value) : json(nullptr);
  return {{"metadata", {{"annotations", annotations}}}};
}

json status_patch(const service_decision& d) {
  json ingress = json::array();
  for (auto& ip : d.ingress_ips) ingress.push_back({{"ip", ip}, {"ipMode", "VIP"}});
  return {{"status", {{"loadBalancer", {{"ingress", ingress}}}}}};
}

}  // namespace herald::allocator
