// The resources the emulator serves: built-in kinds (with the discovery data
// kubectl reads: short names, categories, subresources, field selectors) and
// the conversion of a CustomResourceDefinition into served types.
#include "store.hpp"

#include <tuple>

namespace herald::emulator {

namespace {

resource_type make(std::string group, std::string plural, std::string singular, std::string kind, bool namespaced) {
  resource_type t;
  t.group = std::move(group);
  t.version = "v1";
  t.plural = std::move(plural);
  t.singular = std::move(singular);
  t.kind = kind;
  t.list_kind = kind + "List";
  t.namespaced = namespaced;
  return t;
}

}  // namespace

std::vector<resource_type> builtin_types() {
  std::vector<resource_type> out;
  {
    auto t = make("", "namespaces", "namespace", "Namespace", false);
    t.short_names = {"ns"};
    t.status_subresource = true;
    t.field_selectors = {"status.phase"};
    out.push_back(t);
  }
  {
    auto t = make("", "services", "service", "Service", true);
    t.short_names = {"svc"};
    t.categories = {"all"};
    t.status_subresource = true;
    t.reset_status_on_create = true;
    t.field_selectors = {"spec.clusterIP", "spec.type"};
    out.push_back(t);
  }
  {
    auto t = make("", "nodes", "node", "Node", false);
    t.short_names = {"no"};
    t.status_subresource = true;
    t.field_selectors = {"spec.unschedulable"};
    out.push_back(t);
  }
  {
    auto t = make("", "secrets", "secret", "Secret", true);
    t.field_selectors = {"type"};
    out.push_back(t);
  }
  {
    auto t = make("", "configmaps", "configmap", "ConfigMap", true);
    t.short_names = {"cm"};
    out.push_back(t);
  }
  {
    auto t = make("", "events", "event", "Event", true);
    t.short_names = {"ev"};
    t.field_selectors = {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                         "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"};
    out.push_back(t);
  }
  {
    auto t = make("events.k8s.io", "events", "event", "Event", true);
    t.short_names = {"ev"};
    out.push_back(t);
  }
  {
    auto t = make("discovery.k8s.io", "endpointslices", "endpointslice", "EndpointSlice", true);
    t.tracks_generation = true;
    out.push_back(t);
  }
  out.push_back(make("coordination.k8s.io", "leases", "lease", "Lease", true));
  // What an installation (manifests/, kubectl apply -k) creates besides CRDs:
  // stored as given, not run (no pods, no RBAC enforcement).
  {
    auto t = make("", "serviceaccounts", "serviceaccount", "ServiceAccount", true);
    t.short_names = {"sa"};
    out.push_back(t);
  }
  for (const auto& [plural, kind, namespaced] :
       {std::tuple{"roles", "Role", true}, std::tuple{"rolebindings", "RoleBinding", true},
        std::tuple{"clusterroles", "ClusterRole", false}, std::tuple{"clusterrolebindings", "ClusterRoleBinding", false}}) {
    std::string singular = kind;
    for (auto& c : singular) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(make("rbac.authorization.k8s.io", plural, singular, kind, namespaced));
  }
  for (const auto& [plural, singular, kind, short_name] :
       {std::tuple{"deployments", "deployment", "Deployment", "deploy"},
        std::tuple{"daemonsets", "daemonset", "DaemonSet", "ds"}}) {
    auto t = make("apps", plural, singular, kind, true);
    t.short_names = {short_name};
    t.categories = {"all"};
    t.status_subresource = true;
    t.tracks_generation = true;
    out.push_back(t);
  }
  {
    auto t = make("apiextensions.k8s.io", "customresourcedefinitions", "customresourcedefinition",
                  "CustomResourceDefinition", false);
    t.short_names = {"crd", "crds"};
    t.categories = {"api-extensions"};
    t.status_subresource = true;
    t.tracks_generation = true;
    out.push_back(t);
  }
  return out;
}

api_result<std::vector<resource_type>> types_from_crd(const json& crd) {
  const std::string name = crd.contains("metadata") ? crd["metadata"].value("name", "") : "";
  auto bad = [&](const std::string& what) {
    return invalid("CustomResourceDefinition.apiextensions.k8s.io", name, what);
  };
  if (!crd.contains("spec") || !crd["spec"].is_object()) return bad("spec: Required value");
  const json& spec = crd["spec"];
  const json names = spec.value("names", json::object());
  if (!spec.contains("group") || !spec["group"].is_string()) return bad("spec.group: Required value");
  if (!names.contains("plural") || !names.contains("kind")) return bad("spec.names.plural: Required value");
  const std::string group = spec["group"].get<std::string>();
  const std::string plural = names["plural"].get<std::string>();
  if (name != plural + "." + group)
    return bad("metadata.name: Invalid value: \"" + name + "\": must be spec.names.plural+\".\"+spec.group");
  if (!spec.contains("versions") || !spec["versions"].is_array() || spec["versions"].empty())
    return bad("spec.versions: Invalid value: null: must have exactly one version marked as storage version");
  std::vector<resource_type> out;
  for (const auto& v : spec["versions"]) {
    if (!v.value("served", true)) continue;
    resource_type t;
    t.group = group;
    t.version = v.value("name", "v1");
    t.plural = plural;
    t.kind = names["kind"].get<std::string>();
    t.singular = names.value("singular", std::string());
    if (t.singular.empty()) {
      t.singular = t.kind;
      for (auto& c : t.singular) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    t.list_kind = names.value("listKind", t.kind + "List");
    t.namespaced = spec.value("scope", "Namespaced") == "Namespaced";
    t.custom = true;
    t.tracks_generation = true;
    t.status_subresource = v.contains("subresources") && v["subresources"].is_object() &&
                           v["subresources"].contains("status");
    t.reset_status_on_create = t.status_subresource;
    if (names.contains("shortNames")) t.short_names = names["shortNames"].get<std::vector<std::string>>();
    if (names.contains("categories")) t.categories = names["categories"].get<std::vector<std::string>>();
    if (v.contains("schema") && v["schema"].contains("openAPIV3Schema")) t.schema = v["schema"]["openAPIV3Schema"];
    if (v.contains("additionalPrinterColumns")) t.printer_columns = v["additionalPrinterColumns"];
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace herald::emulator
