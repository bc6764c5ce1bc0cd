// Discovery and OpenAPI v3 stub documents (see discovery.hpp).
#include "discovery.hpp"

#include <set>

namespace herald::emulator {

json version_info(int minor) {
  const std::string git = "v1." + std::to_string(minor) + ".3";
  return {{"major", "1"},
          {"minor", std::to_string(minor)},
          {"gitVersion", git},
          {"gitCommit", "0000000000000000000000000000000000000000"},
          {"gitTreeState", "clean"},
          {"buildDate", "2026-01-01T00:00:00Z"},
          {"goVersion", "go1.23.6"},
          {"compiler", "gc"},
          {"platform", "linux/amd64"}};
}

json api_versions(const std::string& server_address) {
  return {{"kind", "APIVersions"},
          {"versions", json::array({"v1"})},
          {"serverAddressByClientCIDRs",
           json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}})}};
}

namespace {

std::vector<std::string> versions_of(const store& s, const std::string& group) {
  std::vector<std::string> out;
  for (const auto* t : s.types())
    if (t->group == group && std::find(out.begin(), out.end(), t->version) == out.end()) out.push_back(t->version);
  return out;
}

json group_json(const store& s, const std::string& group) {
  json versions = json::array();
  for (const auto& v : versions_of(s, group)) versions.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  return {{"name", group}, {"versions", versions}, {"preferredVersion", versions.empty() ? json() : versions[0]}};
}

std::vector<std::string> verbs_for(const resource_type&) {
  return {"create", "delete", "get", "list", "patch", "update", "watch"};
}

}  // namespace

json api_group_list(const store& s) {
  std::vector<std::string> groups;
  for (const auto* t : s.types())
    if (!t->group.empty() && std::find(groups.begin(), groups.end(), t->group) == groups.end())
      groups.push_back(t->group);
  json out = {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", json::array()}};
  for (const auto& g : groups) out["groups"].push_back(group_json(s, g));
  return out;
}

json api_group(const store& s, const std::string& group) {
  if (versions_of(s, group).empty()) return json();
  json g = group_json(s, group);
  g["kind"] = "APIGroup";
  g["apiVersion"] = "v1";
  return g;
}

json api_resource_list(const store& s, const std::string& group, const std::string& version) {
  json resources = json::array();
  for (const auto* t : s.types()) {
    if (t->group != group || t->version != version) continue;
    json r = {{"name", t->plural},       {"singularName", t->singular}, {"namespaced", t->namespaced},
              {"kind", t->kind},         {"verbs", verbs_for(*t)},      {"storageVersionHash", ""}};
    if (!t->short_names.empty()) r["shortNames"] = t->short_names;
    if (!t->categories.empty()) r["categories"] = t->categories;
    resources.push_back(r);
    if (t->status_subresource)
      resources.push_back({{"name", t->plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", t->namespaced},
                           {"kind", t->kind},
                           {"verbs", json::array({"get", "patch", "update"})}});
  }
  if (resources.empty()) return json();
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", resources}};
}

json openapi_v3_index(const store& s) {
  std::set<std::string> gvs;
  for (const auto* t : s.types()) gvs.insert(t->group.empty() ? "api/" + t->version : "apis/" + t->group + "/" + t->version);
  json paths = json::object();
  for (const auto& gv : gvs) paths[gv] = {{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=0"}};
  return {{"paths", paths}};
}

json openapi_v3_document(const store& s, const std::string& group, const std::string& version, int minor) {
  json paths = json::object();
  for (const auto* t : s.types()) {
    if (t->group != group || t->version != version) continue;
    const std::string prefix = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    const std::string path = prefix + (t->namespaced ? "/namespaces/{namespace}/" : "/") + t->plural + "/{name}";
    json params = json::array();
    for (const char* p : {"dryRun", "fieldManager", "fieldValidation", "force"})
      params.push_back({{"name", p}, {"in", "query"}, {"schema", {{"type", "string"}, {"uniqueItems", true}}}});
    paths[path] = {{"patch",
                    {{"operationId", "patch" + t->kind},
                     {"parameters", params},
                     {"responses", {{"200", {{"description", "OK"}}}}},
                     {"x-kubernetes-action", "patch"},
                     {"x-kubernetes-group-version-kind", {{"group", group}, {"version", version}, {"kind", t->kind}}}}}};
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes"}, {"version", "v1." + std::to_string(minor) + ".3"}}},
          {"paths", paths},
          {"components", {{"schemas", json::object()}}}};
}

}  // namespace herald::emulator
