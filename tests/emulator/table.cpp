// Table output for kubectl get (see table.hpp).
#include "table.hpp"

#include "selector.hpp"

#include <ctime>

namespace herald::emulator {

namespace {

json column(const std::string& name, const std::string& type, int priority = 0, const std::string& format = "") {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", ""}, {"priority", priority}};
}

std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& s) {
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string age(const json& obj, std::chrono::system_clock::time_point now) {
  const std::string ts = field_value(obj, "metadata.creationTimestamp");
  const auto t = parse_time(ts);
  if (!t) return "<unknown>";
  return human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
}

std::string join(const std::vector<std::string>& v, const std::string& empty = "<none>") {
  if (v.empty()) return empty;
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string map_string(const json& m) {
  std::vector<std::string> parts;
  if (m.is_object())
    for (auto it = m.begin(); it != m.end(); ++it)
      parts.push_back(it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump()));
  return join(parts);
}

std::vector<std::string> strings_of(const json& a) {
  std::vector<std::string> out;
  if (a.is_array())
    for (const auto& e : a)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

json service_cells(const json& svc, std::chrono::system_clock::time_point now) {
  const json spec = svc.value("spec", json::object());
  const std::string type = spec.value("type", "ClusterIP");
  std::string cluster_ip = spec.value("clusterIP", "");
  if (cluster_ip.empty()) cluster_ip = "<none>";
  std::vector<std::string> external = strings_of(spec.value("externalIPs", json::array()));
  std::string external_ip;
  if (type == "LoadBalancer") {
    std::vector<std::string> lb;
    const json ingress = svc.contains("status") ? svc["status"].value("loadBalancer", json::object()).value("ingress", json::array())
                                                : json::array();
    for (const auto& i : ingress) {
      if (i.contains("ip")) lb.push_back(i["ip"].get<std::string>());
      else if (i.contains("hostname")) lb.push_back(i["hostname"].get<std::string>());
    }
    lb.insert(lb.end(), external.begin(), external.end());
    external_ip = join(lb, "<pending>");
  } else if (type == "ExternalName") {
    external_ip = spec.value("externalName", "<none>");
  } else {
    external_ip = join(external);
  }
  std::vector<std::string> ports;
  for (const auto& p : spec.value("ports", json::array())) {
    std::string s = p.value("port", json(0)).dump();
    if (p.contains("nodePort")) s += ":" + p["nodePort"].dump();
    ports.push_back(s + "/" + p.value("protocol", "TCP"));
  }
  return json::array({svc["metadata"]["name"], type, cluster_ip, external_ip, join(ports), age(svc, now),
                      map_string(spec.value("selector", json()))});
}

json node_cells(const json& node, std::chrono::system_clock::time_point now) {
  std::string status = "Unknown";
  const json status_json = node.value("status", json::object());
  for (const auto& c : status_json.value("conditions", json::array()))
    if (c.value("type", "") == "Ready") status = c.value("status", "") == "True" ? "Ready" : "NotReady";
  if (node.contains("spec") && node["spec"].value("unschedulable", false)) status += ",SchedulingDisabled";
  std::vector<std::string> roles;
  const json labels = node["metadata"].value("labels", json::object());
  for (auto it = labels.begin(); it != labels.end(); ++it)
    if (it.key().rfind("node-role.kubernetes.io/", 0) == 0) roles.push_back(it.key().substr(24));
  std::string internal_ip = "<none>";
  for (const auto& a : status_json.value("addresses", json::array()))
    if (a.value("type", "") == "InternalIP") internal_ip = a.value("address", "<none>");
  return json::array({node["metadata"]["name"], status, join(roles), age(node, now),
                      status_json.value("nodeInfo", json::object()).value("kubeletVersion", ""), internal_ip});
}

// `.spec.a.b` → value (simple JSONPaths only; anything else prints empty).
json jsonpath_value(const json& obj, const std::string& path) {
  if (path.empty() || path[0] != '.') return nullptr;
  const json* cur = &obj;
  std::size_t s = 1;
  while (s <= path.size()) {
    const auto dot = path.find('.', s);
    const std::string part = path.substr(s, dot == std::string::npos ? std::string::npos : dot - s);
    if (!cur->is_object() || !cur->contains(part)) return nullptr;
    cur = &(*cur)[part];
    if (dot == std::string::npos) break;
    s = dot + 1;
  }
  return *cur;
}

struct printer {
  json columns;
  std::function<json(const json&)> cells;
};

printer printer_for(const resource_type& t, std::chrono::system_clock::time_point now) {
  const json name_col = column("Name", "string", 0, "name");
  const json age_col = column("Age", "string");
  if (t.group.empty() && t.kind == "Service")
    return {json::array({name_col, column("Type", "string"), column("Cluster-IP", "string"),
                         column("External-IP", "string"), column("Port(s)", "string"), age_col,
                         column("Selector", "string", 1)}),
            [now](const json& o) { return service_cells(o, now); }};
  if (t.group.empty() && t.kind == "Node")
    return {json::array({name_col, column("Status", "string"), column("Roles", "string"), age_col,
                         column("Version", "string"), column("Internal-IP", "string", 1)}),
            [now](const json& o) { return node_cells(o, now); }};
  if (t.group.empty() && t.kind == "Namespace")
    return {json::array({name_col, column("Status", "string"), age_col}), [now](const json& o) {
              return json::array({o["metadata"]["name"], field_value(o, "status.phase"), age(o, now)});
            }};
  if (t.group.empty() && (t.kind == "Secret" || t.kind == "ConfigMap")) {
    const bool secret = t.kind == "Secret";
    json cols = secret ? json::array({name_col, column("Type", "string"), column("Data", "string"), age_col})
                       : json::array({name_col, column("Data", "string"), age_col});
    return {cols, [now, secret](const json& o) {
              const std::size_t n = o.value("data", json::object()).size() + o.value("binaryData", json::object()).size() +
                                    o.value("stringData", json::object()).size();
              return secret ? json::array({o["metadata"]["name"], o.value("type", "Opaque"), n, age(o, now)})
                            : json::array({o["metadata"]["name"], n, age(o, now)});
            }};
  }
  if (t.kind == "EndpointSlice")
    return {json::array({name_col, column("AddressType", "string"), column("Ports", "string"),
                         column("Endpoints", "string"), age_col}),
            [now](const json& o) {
              std::vector<std::string> ports, addrs;
              for (const auto& p : o.value("ports", json::array())) ports.push_back(p.value("port", json(0)).dump());
              for (const auto& e : o.value("endpoints", json::array()))
                for (const auto& a : strings_of(e.value("addresses", json::array()))) addrs.push_back(a);
              return json::array({o["metadata"]["name"], o.value("addressType", ""), join(ports, "<unset>"),
                                  join(addrs, "<unset>"), age(o, now)});
            }};
  if (t.kind == "Lease")
    return {json::array({name_col, column("Holder", "string"), age_col}), [now](const json& o) {
              return json::array({o["metadata"]["name"], field_value(o, "spec.holderIdentity"), age(o, now)});
            }};
  if (t.custom && t.printer_columns.is_array() && !t.printer_columns.empty()) {
    json cols = json::array({name_col});
    for (const auto& c : t.printer_columns) {
      const std::string type = c.value("type", "string");
      cols.push_back(column(c.value("name", ""), type == "date" ? "string" : type, c.value("priority", 0),
                            c.value("format", "")));
    }
    const json pc = t.printer_columns;
    return {cols, [now, pc](const json& o) {
              json cells = json::array({o["metadata"]["name"]});
              for (const auto& c : pc) {
                json v = jsonpath_value(o, c.value("jsonPath", ""));
                if (c.value("type", "") == "date" && v.is_string()) {
                  json tmp = {{"metadata", {{"creationTimestamp", v}}}};
                  v = age(tmp, now);
                }
                cells.push_back(v);
              }
              return cells;
            }};
  }
  return {json::array({name_col, age_col}),
          [now](const json& o) { return json::array({o["metadata"]["name"], age(o, now)}); }};
}

json row_object(const resource_type& t, const json& obj, const std::string& include_object) {
  if (include_object == "None") return nullptr;
  if (include_object == "Object") {
    json full = obj;
    full["kind"] = t.kind;
    full["apiVersion"] = t.api_version();
    return full;
  }
  return {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", obj["metadata"]}};
}

}  // namespace

std::string human_duration(std::chrono::seconds d) {
  const long s = d.count();
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return std::to_string(s) + "s";
  const long m = s / 60;
  if (m < 10) return s % 60 == 0 ? std::to_string(m) + "m" : std::to_string(m) + "m" + std::to_string(s % 60) + "s";
  if (m < 180) return std::to_string(m) + "m";
  const long h = m / 60;
  if (h < 8) return m % 60 == 0 ? std::to_string(h) + "h" : std::to_string(h) + "h" + std::to_string(m % 60) + "m";
  if (h < 48) return std::to_string(h) + "h";
  if (h < 24 * 8) return h % 24 == 0 ? std::to_string(h / 24) + "d" : std::to_string(h / 24) + "d" + std::to_string(h % 24) + "h";
  if (h < 24 * 365 * 2) return std::to_string(h / 24) + "d";
  const long y = h / (24 * 365);
  if (y < 8) return std::to_string(y) + "y" + std::to_string((h / 24) % 365) + "d";
  return std::to_string(y) + "y";
}

json to_table(const resource_type& t, const json& list_or_object, const std::string& include_object,
              std::chrono::system_clock::time_point now) {
  const printer p = printer_for(t, now);
  json rows = json::array();
  json meta = json::object();
  auto add = [&](const json& obj) { rows.push_back({{"cells", p.cells(obj)}, {"object", row_object(t, obj, include_object)}}); };
  if (list_or_object.contains("items")) {
    for (const auto& i : list_or_object["items"]) add(i);
    meta = list_or_object.value("metadata", json::object());
  } else {
    add(list_or_object);
    meta["resourceVersion"] = field_value(list_or_object, "metadata.resourceVersion");
  }
  return {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta}, {"columnDefinitions", p.columns},
          {"rows", rows}};
}

}  // namespace herald::emulator
