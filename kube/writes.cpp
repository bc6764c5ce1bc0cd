// Merge-patch bodies and requests (writes.hpp).
#include "kube/writes.hpp"

namespace herald::kube {

using nlohmann::json;

namespace {
json with_precondition(json patch, const std::optional<std::string>& resource_version) {
  if (resource_version) patch["metadata"]["resourceVersion"] = *resource_version;
  return patch;
}

template <class T>
result<T> parse_answer(const result<json>& answer) {
  if (!answer) return answer.error();
  auto parsed = T::parse(*answer);
  if (!parsed) return client_error("Decode", "answer does not parse: " + parsed.error().text);
  return std::move(*parsed);
}
}  // namespace

std::string service_status_patch(const std::vector<load_balancer_ingress>& ingress,
                                 const std::optional<std::string>& resource_version) {
  json list = json::array();
  for (const auto& in : ingress) {
    json e = json::object();
    if (!in.ip.empty()) e["ip"] = in.ip;
    if (!in.hostname.empty()) e["hostname"] = in.hostname;
    if (!in.ip_mode.empty()) e["ipMode"] = in.ip_mode;
    if (!in.ports.empty()) {
      json ports = json::array();
      for (const auto& p : in.ports) {
        json port = {{"port", p.port}, {"protocol", p.protocol}};
        if (p.error) port["error"] = *p.error;
        ports.push_back(std::move(port));
      }
      e["ports"] = std::move(ports);
    }
    list.push_back(std::move(e));
  }
  // ingress is an atomic list: a merge patch replaces it whole.
  json patch = {{"status", {{"loadBalancer", {{"ingress", std::move(list)}}}}}};
  return with_precondition(std::move(patch), resource_version).dump();
}

std::string annotations_patch(const annotation_changes& changes, const std::optional<std::string>& resource_version) {
  json annotations = json::object();
  for (const auto& [key, value] : changes) annotations[key] = value ? json(*value) : json(nullptr);
  json patch = {{"metadata", {{"annotations", std::move(annotations)}}}};
  return with_precondition(std::move(patch), resource_version).dump();
}

std::string status_patch(const json& status, const std::optional<std::string>& resource_version) {
  json patch = {{"status", status}};
  return with_precondition(std::move(patch), resource_version).dump();
}

namespace {
json without_transition_times(json conditions) {
  if (!conditions.is_array()) return json::array();
  for (auto& c : conditions)
    if (c.is_object()) c.erase("lastTransitionTime");
  return conditions;
}
}  // namespace

std::optional<json> status_update(json desired, const json& current, const std::vector<std::string>& fields,
                                  const std::string& now) {
  const json stored = current.is_object() ? current : json::object();
  if (!desired.contains("conditions")) desired["conditions"] = json::array();
  bool same = without_transition_times(stored.value("conditions", json::array())) == desired["conditions"];
  for (const auto& [key, value] : desired.items())
    if (key != "conditions" && (!stored.contains(key) || stored[key] != value)) same = false;
  for (const auto& f : fields) {
    bool have = stored.contains(f) && !stored[f].is_null();
    if (!desired.contains(f) && have) {
      desired[f] = nullptr;
      same = false;
    }
  }
  if (same) return std::nullopt;
  for (auto& c : desired["conditions"]) {
    std::string when = now;
    if (stored.contains("conditions") && stored["conditions"].is_array())
      for (const auto& old : stored["conditions"])
        if (old.is_object() && old.value("type", "") == c["type"] && old.value("status", "") == c["status"] &&
            old.contains("lastTransitionTime") && old["lastTransitionTime"].is_string())
          when = old["lastTransitionTime"].get<std::string>();
    c["lastTransitionTime"] = when;
  }
  return desired;
}

asio::awaitable<result<json>> merge_patch(client& c, const std::string& path, const std::string& body) {
  request_options req;
  req.method = http::verb::patch;
  req.target = path;
  req.body = body;
  req.content_type = "application/merge-patch+json";
  auto answer = co_await c.request_json(req);
  co_return answer;
}

asio::awaitable<result<service>> patch_service_status(client& c, const std::string& ns, const std::string& name,
                                                      const std::vector<load_balancer_ingress>& ingress,
                                                      const std::optional<std::string>& resource_version) {
  const std::string path = resources::services.path(ns, name, "status");
  const std::string body = service_status_patch(ingress, resource_version);
  auto answer = co_await merge_patch(c, path, body);
  result<service> out = parse_answer<service>(answer);
  co_return out;
}

asio::awaitable<result<json>> patch_annotations(client& c, const resource& r, const std::string& ns,
                                                const std::string& name, const annotation_changes& changes,
                                                const std::optional<std::string>& resource_version) {
  const std::string path = r.path(ns, name);
  const std::string body = annotations_patch(changes, resource_version);
  auto answer = co_await merge_patch(c, path, body);
  co_return answer;
}

asio::awaitable<result<custom_resource>> patch_custom_status(client& c, const resource& r, const std::string& ns,
                                                             const std::string& name, const json& status,
                                                             const std::optional<std::string>& resource_version) {
  const std::string path = r.path(ns, name, "status");
  const std::string body = status_patch(status, resource_version);
  auto answer = co_await merge_patch(c, path, body);
  result<custom_resource> out = parse_answer<custom_resource>(answer);
  co_return out;
}

}  // namespace herald::kube
