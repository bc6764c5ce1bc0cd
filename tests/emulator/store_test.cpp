// Unit tests of the emulator's store semantics (kube-api.md §1, §2):
// resourceVersion, list paging, watch start from an RV, 410 after compaction,
// writes and conflicts, the /status split, Service defaulting, CRD types.
#include "store.hpp"

#include "result_catch.hpp"

using herald::emulator::change;
using herald::emulator::json;
using herald::emulator::list_options;
using herald::emulator::patch_kind;
using herald::emulator::resource_type;
using herald::emulator::store;

namespace {

json service(const std::string& name, int port = 80) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}, {"labels", {{"app", name}}}}},
          {"spec", {{"type", "LoadBalancer"}, {"ports", json::array({{{"port", port}}})}}}};
}

json peer_crd() {
  return json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.dev"},
    "spec": {"group": "example.dev", "scope": "Namespaced",
      "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
      "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
          "spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "integer", "minimum": 1}, "color": {"type": "string", "enum": ["red", "blue"]}}},
          "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}}}]}})");
}

std::string rv_of(const json& o) { return o["metadata"]["resourceVersion"].get<std::string>(); }

struct fixture {
  store s;
  const resource_type* svc = s.find_type("", "v1", "services");
  std::vector<change> seen;
  fixture() {
    s.on_commit([this](const change& c) { seen.push_back(c); });
  }
};

}  // namespace

TEST_CASE("create assigns uid, resourceVersion and Service defaults", "[store]") {
  fixture f;
  auto made = f.s.create(*f.svc, "default", service("web"));
  REQUIRE(made);
  const json& o = *made;
  CHECK(o["metadata"]["uid"].is_string());
  CHECK(rv_of(o) == std::to_string(f.s.current_rv()));
  CHECK(o["spec"]["ports"][0]["protocol"] == "TCP");
  CHECK(o["spec"]["ports"][0]["targetPort"] == 80);
  CHECK(o["spec"]["ports"][0].contains("nodePort"));
  CHECK(o["spec"]["externalTrafficPolicy"] == "Cluster");
  CHECK(o["spec"]["clusterIP"].is_string());
  CHECK(o["status"] == json({{"loadBalancer", json::object()}}));
  REQUIRE(f.seen.size() == 1);
  CHECK(f.seen[0].type == herald::emulator::event_type::added);

  auto again = f.s.create(*f.svc, "default", service("web"));
  REQUIRE_FALSE(again);
  CHECK(again.error().code == 409);
  CHECK(again.error().reason == "AlreadyExists");

  auto no_ns = f.s.create(*f.svc, "nope", service("web"));
  REQUIRE_FALSE(no_ns);
  CHECK(no_ns.error().code == 404);
}

TEST_CASE("generateName appends a suffix", "[store]") {
  fixture f;
  json body = service("");
  body["metadata"].erase("name");
  body["metadata"]["generateName"] = "web-";
  auto made = f.s.create(*f.svc, "default", body);
  REQUIRE(made);
  const std::string name = (*made)["metadata"]["name"];
  CHECK(name.size() == 9);
  CHECK(name.rfind("web-", 0) == 0);
}

TEST_CASE("PUT with a stale resourceVersion is a 409 Conflict; without one it is unconditional", "[store]") {
  fixture f;
  auto made = f.s.create(*f.svc, "default", service("web"));
  REQUIRE(made);
  json stale = *made;
  json update = *made;
  update["metadata"]["annotations"] = {{"a", "1"}};
  auto put = f.s.replace(*f.svc, "default", "web", update, "");
  REQUIRE(put);
  CHECK(rv_of(*put) != rv_of(*made));
  stale["metadata"]["labels"]["x"] = "y";
  auto conflict = f.s.replace(*f.svc, "default", "web", stale, "");
  REQUIRE_FALSE(conflict);
  CHECK(conflict.error().code == 409);
  CHECK(conflict.error().reason == "Conflict");
  CHECK(conflict.error().message.find("the object has been modified") != std::string::npos);
  stale["metadata"].erase("resourceVersion");
  CHECK(f.s.replace(*f.svc, "default", "web", stale, ""));
}

TEST_CASE("a no-op write keeps the resourceVersion and sends no event", "[store]") {
  fixture f;
  auto made = f.s.create(*f.svc, "default", service("web"));
  REQUIRE(made);
  const auto events = f.seen.size();
  auto same = f.s.patch(*f.svc, "default", "web", patch_kind::merge, json{{"metadata", {{"labels", {{"app", "web"}}}}}}, "");
  REQUIRE(same);
  CHECK(rv_of(*same) == rv_of(*made));
  CHECK(f.seen.size() == events);
}

TEST_CASE("status subresource split and ipMode defaulting", "[store]") {
  fixture f;
  REQUIRE(f.s.create(*f.svc, "default", service("web")));
  // A main-resource write ignores status.
  auto main = f.s.patch(*f.svc, "default", "web", patch_kind::merge,
                        json::parse(R"({"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1"}]}}})"), "");
  REQUIRE(main);
  CHECK((*main)["status"]["loadBalancer"] == json::object());
  // A status write keeps the spec and defaults ipMode.
  auto st = f.s.patch(*f.svc, "default", "web", patch_kind::merge,
                      json::parse(R"({"spec":{"type":"ClusterIP"},"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1"}]}}})"),
                      "status");
  REQUIRE(st);
  CHECK((*st)["spec"]["type"] == "LoadBalancer");
  CHECK((*st)["status"]["loadBalancer"]["ingress"][0]["ipMode"] == "VIP");
  // A resourceVersion inside a patch is a precondition.
  json cas = json::parse(R"({"metadata":{"resourceVersion":"1"},"status":{"loadBalancer":{}}})");
  auto stale = f.s.patch(*f.svc, "default", "web", patch_kind::merge, cas, "status");
  REQUIRE_FALSE(stale);
  CHECK(stale.error().code == 409);
  cas["metadata"]["resourceVersion"] = rv_of(*st);
  CHECK(f.s.patch(*f.svc, "default", "web", patch_kind::merge, cas, "status"));
}

TEST_CASE("loadBalancerClass is immutable", "[store]") {
  fixture f;
  json body = service("web");
  body["spec"]["loadBalancerClass"] = "herald.dev/lb";
  REQUIRE(f.s.create(*f.svc, "default", body));
  auto changed = f.s.patch(*f.svc, "default", "web", patch_kind::merge,
                           json{{"spec", {{"loadBalancerClass", "other"}}}}, "");
  REQUIRE_FALSE(changed);
  CHECK(changed.error().code == 422);
}

TEST_CASE("strategic merge patch merges Service ports by port and maps by key", "[store]") {
  fixture f;
  json body = service("web");
  body["spec"]["ports"] = json::parse(R"([{"name":"http","port":80},{"name":"https","port":443}])");
  REQUIRE(f.s.create(*f.svc, "default", body));
  auto r = f.s.patch(*f.svc, "default", "web", patch_kind::strategic, json::parse(R"({
      "metadata": {"annotations": {"note": "x"}},
      "spec": {"$setElementOrder/ports": [{"port": 8080}, {"port": 80}],
               "ports": [{"port": 8080, "name": "alt"}, {"port": 80, "targetPort": 8000}, {"port": 443, "$patch": "delete"}]}})"),
                     "");
  REQUIRE(r);
  const json& ports = (*r)["spec"]["ports"];
  REQUIRE(ports.size() == 2);
  CHECK(ports[0]["port"] == 8080);
  CHECK(ports[1]["port"] == 80);
  CHECK(ports[1]["targetPort"] == 8000);
  CHECK(ports[1]["name"] == "http");
  CHECK((*r)["metadata"]["annotations"]["note"] == "x");
  CHECK((*r)["metadata"]["labels"]["app"] == "web");
}

TEST_CASE("JSON patch applies and a failing test op is 422", "[store]") {
  fixture f;
  REQUIRE(f.s.create(*f.svc, "default", service("web")));
  auto ok = f.s.patch(*f.svc, "default", "web", patch_kind::json_patch,
                      json::parse(R"([{"op":"add","path":"/metadata/annotations","value":{"k":"v"}}])"), "");
  REQUIRE(ok);
  CHECK((*ok)["metadata"]["annotations"]["k"] == "v");
  auto bad = f.s.patch(*f.svc, "default", "web", patch_kind::json_patch,
                       json::parse(R"([{"op":"test","path":"/metadata/name","value":"other"}])"), "");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == 422);
}

TEST_CASE("list pages keep one resourceVersion and see a consistent snapshot", "[store]") {
  fixture f;
  for (int i = 0; i < 5; ++i) REQUIRE(f.s.create(*f.svc, "default", service("svc" + std::to_string(i))));
  list_options opt;
  opt.limit = 2;
  auto page1 = f.s.list(*f.svc, "", opt);
  REQUIRE(page1);
  CHECK((*page1)["items"].size() == 2);
  CHECK((*page1)["metadata"]["remainingItemCount"] == 3);
  CHECK_FALSE((*page1)["items"][0].contains("kind"));
  const std::string rv = (*page1)["metadata"]["resourceVersion"];
  // Changes after the first page do not show in later pages.
  REQUIRE(f.s.remove(*f.svc, "default", "svc3", json()));
  REQUIRE(f.s.patch(*f.svc, "default", "svc4", patch_kind::merge, json{{"metadata", {{"labels", {{"app", "changed"}}}}}}, ""));
  REQUIRE(f.s.patch(*f.svc, "default", "svc4", patch_kind::merge, json{{"metadata", {{"labels", {{"app", "again"}}}}}}, ""));
  REQUIRE(f.s.create(*f.svc, "default", service("svc9")));
  std::vector<std::string> names;
  for (auto& i : (*page1)["items"]) names.push_back(i["metadata"]["name"]);
  opt.continue_token = (*page1)["metadata"]["continue"];
  while (!opt.continue_token.empty()) {
    auto page = f.s.list(*f.svc, "", opt);
    REQUIRE(page);
    CHECK((*page)["metadata"]["resourceVersion"] == rv);
    for (auto& i : (*page)["items"]) {
      names.push_back(i["metadata"]["name"]);
      if (i["metadata"]["name"] == "svc4") CHECK(i["metadata"]["labels"]["app"] == "svc4");
    }
    opt.continue_token = (*page)["metadata"].value("continue", "");
  }
  CHECK(names == std::vector<std::string>{"svc0", "svc1", "svc2", "svc3", "svc4"});

  list_options with_rv;
  with_rv.continue_token = (*page1)["metadata"]["continue"];
  with_rv.resource_version = "5";
  auto bad = f.s.list(*f.svc, "", with_rv);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == 400);

  f.s.compact_all();
  list_options expired;
  expired.continue_token = (*page1)["metadata"]["continue"];
  auto gone = f.s.list(*f.svc, "", expired);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == 410);
}

TEST_CASE("list with resourceVersion=0 ignores limit; a too large resourceVersion is 504", "[store]") {
  fixture f;
  for (int i = 0; i < 3; ++i) REQUIRE(f.s.create(*f.svc, "default", service("s" + std::to_string(i))));
  list_options opt;
  opt.limit = 1;
  opt.resource_version = "0";
  auto all = f.s.list(*f.svc, "", opt);
  REQUIRE(all);
  CHECK((*all)["items"].size() == 3);
  opt.resource_version = std::to_string(f.s.current_rv() + 10);
  auto future = f.s.list(*f.svc, "", opt);
  REQUIRE_FALSE(future);
  CHECK(future.error().code == 504);
}

TEST_CASE("watch start: unset RV gives synthetic ADDED, RV N replays later changes, compacted RV is 410", "[store]") {
  fixture f;
  REQUIRE(f.s.create(*f.svc, "default", service("a")));
  const std::string after_a = std::to_string(f.s.current_rv());
  REQUIRE(f.s.create(*f.svc, "default", service("b")));
  REQUIRE(f.s.remove(*f.svc, "default", "a", json()));

  auto fresh = f.s.start_watch(*f.svc, "", std::nullopt, {}, {});
  REQUIRE(fresh);
  REQUIRE(fresh->initial.size() == 1);
  CHECK(fresh->initial[0].object["metadata"]["name"] == "b");

  auto replay = f.s.start_watch(*f.svc, "", after_a, {}, {});
  REQUIRE(replay);
  REQUIRE(replay->initial.size() == 2);
  CHECK(replay->initial[0].type == herald::emulator::event_type::added);
  CHECK(replay->initial[1].type == herald::emulator::event_type::deleted);
  // DELETED carries the last state with the delete's resourceVersion.
  CHECK(replay->initial[1].object["metadata"]["name"] == "a");
  CHECK(rv_of(replay->initial[1].object) == std::to_string(f.s.current_rv()));

  f.s.compact_all();
  auto old = f.s.start_watch(*f.svc, "", after_a, {}, {});
  REQUIRE_FALSE(old);
  CHECK(old.error().code == 410);
  CHECK(old.error().reason == "Expired");
  CHECK(old.error().message.find("too old resource version: " + after_a) == 0);
  CHECK(f.s.start_watch(*f.svc, "", std::to_string(f.s.current_rv()), {}, {}));
}

TEST_CASE("finalizers delay deletion until removed", "[store]") {
  fixture f;
  json body = service("web");
  body["metadata"]["finalizers"] = {"herald.dev/address"};
  REQUIRE(f.s.create(*f.svc, "default", body));
  auto pending = f.s.remove(*f.svc, "default", "web", json());
  REQUIRE(pending);
  CHECK((*pending)["metadata"].contains("deletionTimestamp"));
  REQUIRE(f.s.get(*f.svc, "default", "web"));
  REQUIRE(f.s.patch(*f.svc, "default", "web", patch_kind::merge, json{{"metadata", {{"finalizers", nullptr}}}}, ""));
  CHECK_FALSE(f.s.get(*f.svc, "default", "web"));
  CHECK(f.seen.back().type == herald::emulator::event_type::deleted);
}

TEST_CASE("delete preconditions", "[store]") {
  fixture f;
  REQUIRE(f.s.create(*f.svc, "default", service("web")));
  auto r = f.s.remove(*f.svc, "default", "web", json{{"preconditions", {{"resourceVersion", "1"}}}});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == 409);
  CHECK_FALSE(f.s.remove(*f.svc, "default", "nope", json()));
}

TEST_CASE("custom resources: CRD registers a type; pruning, validation, PUT needs RV, no strategic merge", "[store]") {
  fixture f;
  const resource_type* crd = f.s.find_type("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  REQUIRE(crd);
  REQUIRE(f.s.create(*crd, "", peer_crd()));
  const resource_type* w = f.s.find_type("example.dev", "v1", "widgets");
  REQUIRE(w);
  CHECK(w->status_subresource);
  json body = json::parse(R"({"apiVersion":"example.dev/v1","kind":"Widget","metadata":{"name":"w"},
                              "spec":{"size":2,"unknown":true},"status":{"ready":true}})");
  auto made = f.s.create(*w, "default", body);
  REQUIRE(made);
  CHECK_FALSE((*made)["spec"].contains("unknown"));
  CHECK_FALSE((*made).contains("status"));
  CHECK((*made)["metadata"]["generation"] == 1);

  json bad = body;
  bad["metadata"]["name"] = "bad";
  bad["spec"] = {{"size", 0}, {"color", "green"}};
  auto invalid = f.s.create(*w, "default", bad);
  REQUIRE_FALSE(invalid);
  CHECK(invalid.error().code == 422);
  CHECK(invalid.error().message.find("Widget.example.dev \"bad\" is invalid") == 0);

  json no_rv = *made;
  no_rv["metadata"].erase("resourceVersion");
  auto put = f.s.replace(*w, "default", "w", no_rv, "");
  REQUIRE_FALSE(put);
  CHECK(put.error().code == 422);

  auto smp = f.s.patch(*w, "default", "w", patch_kind::strategic, json{{"spec", {{"size", 3}}}}, "");
  REQUIRE_FALSE(smp);
  CHECK(smp.error().code == 415);

  auto spec_change = f.s.patch(*w, "default", "w", patch_kind::merge, json{{"spec", {{"size", 3}}}}, "");
  REQUIRE(spec_change);
  CHECK((*spec_change)["metadata"]["generation"] == 2);
  auto status = f.s.patch(*w, "default", "w", patch_kind::merge,
                          json{{"spec", {{"size", 9}}}, {"status", {{"ready", true}}}}, "status");
  REQUIRE(status);
  CHECK((*status)["spec"]["size"] == 3);
  CHECK((*status)["status"]["ready"] == true);
  CHECK((*status)["metadata"]["generation"] == 2);
}

TEST_CASE("server-side apply creates a missing object", "[store]") {
  fixture f;
  bool created = false;
  auto r = f.s.patch(*f.svc, "default", "web", patch_kind::apply, service("web"), "", &created);
  REQUIRE(r);
  CHECK(created);
}

TEST_CASE("custom resources get schema defaults", "[store]") {
  fixture f;
  json crd = peer_crd();
  crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["color"]["default"] = "red";
  REQUIRE(f.s.create(*f.s.find_type("apiextensions.k8s.io", "v1", "customresourcedefinitions"), "", crd));
  const resource_type* w = f.s.find_type("example.dev", "v1", "widgets");
  REQUIRE(w);
  auto made = f.s.create(*w, "default", json{{"metadata", {{"name", "w"}}}, {"spec", {{"size", 1}}}});
  REQUIRE(made);
  CHECK((*made)["spec"]["color"] == "red");
}
