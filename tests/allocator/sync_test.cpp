// The controller's write decisions (allocator/sync.hpp): Services and groups
// that already look as decided get no write (a steady cluster writes
// nothing), patches carry only what differs and come in a safe order, group
// status keeps lastTransitionTime; and the controller's metrics pass promtool.
#include <catch2/catch.hpp>

#include "allocator/metrics.hpp"
#include "allocator/promtool.hpp"
#include "allocator/sync.hpp"

using namespace herald::allocator;
using json = nlohmann::json;

namespace {
herald::kube::service parse_service(const json& j) {
  auto s = herald::kube::service::parse(j);
  REQUIRE(s.has_value());
  return *s;
}

json service_json(json annotations, json ingress) {
  return {{"metadata",
           {{"namespace", "shop"},
            {"name", "web"},
            {"uid", "u1"},
            {"resourceVersion", "7"},
            {"creationTimestamp", "2026-11-30T08:00:00Z"},
            {"annotations", std::move(annotations)}}},
          {"spec",
           {{"type", "LoadBalancer"},
            {"ports", {{{"port", 80}, {"protocol", "TCP"}}, {{"port", 53}, {"protocol", "UDP"}}}},
            {"ipFamilies", {"IPv4", "IPv6"}},
            {"ipFamilyPolicy", "PreferDualStack"},
            {"loadBalancerIP", "192.0.2.9"}}},
          {"status", {{"loadBalancer", {{"ingress", std::move(ingress)}}}}}};
}

const json allocated = {{"herald.dev/allocated-by", "herald"},
                        {"herald.dev/allocated-from", "default"},
                        {"herald.dev/pool-type", "remote"}};

service_target target(std::vector<std::string> ips) {
  service_target t;
  t.ingress_ips = std::move(ips);
  if (t.ingress_ips.empty()) {
    for (auto* k : {"herald.dev/allocated-by", "herald.dev/allocated-from", "herald.dev/pool-type"})
      t.annotations[k] = std::nullopt;
  } else {
    for (auto& [k, v] : allocated.items()) t.annotations[k] = v.get<std::string>();
  }
  return t;
}
}  // namespace

TEST_CASE("view_of carries every field the core reads") {
  auto s = parse_service(service_json(allocated, {{{"ip", "192.0.2.9"}, {"ipMode", "VIP"}}, {{"hostname", "x"}}}));
  auto v = view_of(s);
  CHECK(v.key() == "shop/web");
  CHECK(v.uid == "u1");
  CHECK(v.creation_timestamp == "2026-11-30T08:00:00Z");
  CHECK(v.type == "LoadBalancer");
  CHECK_FALSE(v.load_balancer_class);
  CHECK(v.ports == std::vector<service_port>{{"TCP", 80}, {"UDP", 53}});
  CHECK(v.ip_families == std::vector<std::string>{"IPv4", "IPv6"});
  CHECK(v.ip_family_policy == "PreferDualStack");
  CHECK(v.load_balancer_ip == "192.0.2.9");
  CHECK(v.ingress_ips == std::vector<std::string>{"192.0.2.9"});  // the hostname entry has no ip
  CHECK(v.annotations.at("herald.dev/allocated-from") == "default");
}

TEST_CASE("a Service that already shows the target needs no write") {
  auto s = parse_service(service_json(allocated, {{{"ip", "192.0.2.9"}, {"ipMode", "VIP"}}}));
  CHECK(writes_needed(target({"192.0.2.9"}), s).empty());
  // A released Service without Herald's annotations and addresses: nothing either.
  auto bare = parse_service(service_json(json::object(), json::array()));
  CHECK(writes_needed(target({}), bare).empty());
}

TEST_CASE("a new address: only the differing annotations, annotations before status") {
  json partial = allocated;
  partial.erase("herald.dev/pool-type");
  partial["herald.dev/allocated-from"] = "other";
  partial["unrelated"] = "kept";
  auto s = parse_service(service_json(partial, json::array()));
  auto w = writes_needed(target({"192.0.2.9", "2001:db8::9"}), s);
  CHECK(w.annotations == herald::kube::annotation_changes{{"herald.dev/allocated-from", "default"},
                                                          {"herald.dev/pool-type", "remote"}});
  REQUIRE(w.ingress);
  CHECK(*w.ingress == std::vector<std::string>{"192.0.2.9", "2001:db8::9"});
  CHECK_FALSE(w.status_first);
}

TEST_CASE("the last address going: status before the annotations that name its pool") {
  auto s = parse_service(service_json(allocated, {{{"ip", "192.0.2.9"}, {"ipMode", "VIP"}}}));
  auto w = writes_needed(target({}), s);
  REQUIRE(w.ingress);
  CHECK(w.ingress->empty());
  CHECK(w.annotations.size() == 3);
  CHECK_FALSE(w.annotations.begin()->second);
  CHECK(w.status_first);
}

TEST_CASE("ingress entries Herald did not write are replaced") {
  auto proxy = parse_service(service_json(allocated, {{{"ip", "192.0.2.9"}, {"ipMode", "Proxy"}}}));
  auto w = writes_needed(target({"192.0.2.9"}), proxy);
  REQUIRE(w.ingress);
  CHECK(*w.ingress == std::vector<std::string>{"192.0.2.9"});
  CHECK(w.annotations.empty());
  auto order = parse_service(service_json(allocated, {{{"ip", "2001:db8::9"}}, {{"ip", "192.0.2.9"}}}));
  CHECK(writes_needed(target({"192.0.2.9", "2001:db8::9"}), order).ingress);  // the order is ipFamilies'
}

TEST_CASE("a ServiceGroup's own status write is not a change of its input") {
  auto parse = [](json j) {
    auto g = herald::kube::custom_resource::parse(j);
    REQUIRE(g.has_value());
    return *g;
  };
  json base = {{"apiVersion", "herald.dev/v1"},
               {"kind", "ServiceGroup"},
               {"metadata", {{"namespace", "herald-system"}, {"name", "default"}, {"uid", "g1"},
                             {"resourceVersion", "3"}, {"creationTimestamp", "2026-11-30T08:00:00Z"}}},
               {"spec", {{"remote", {{"v4pool", {{"subnet", "192.0.2.0/24"}, {"pool", "192.0.2.0/28"}}}}}}}};
  json with_status = base;
  with_status["metadata"]["resourceVersion"] = "4";
  with_status["status"] = {{"v4InUse", 3}};
  json edited = base;
  edited["spec"]["remote"]["v4pool"]["pool"] = "192.0.2.0/27";
  CHECK_FALSE(group_input_changed(parse(base), parse(with_status)));
  CHECK(group_input_changed(parse(base), parse(edited)));
  auto in = group_input_of(parse(edited));
  CHECK(in.name == "default");
  CHECK(in.creation_timestamp == "2026-11-30T08:00:00Z");
  CHECK(in.spec == edited["spec"]);
}

TEST_CASE("group status: written once, then unchanged; lastTransitionTime kept while a condition holds") {
  group_status s;
  s.name = "default";
  s.type = pool_type::remote;
  s.families[0] = {true, "16", 16, 2};
  s.conditions = {{"Ready", "True", "PoolsValid", "addresses are allocated from this group"}};

  auto first = group_status_update(s, json::object(), "2026-11-30T08:00:00Z");
  REQUIRE(first);
  CHECK((*first)["poolType"] == "remote");
  CHECK((*first)["v4Size"] == "16");
  CHECK((*first)["v4InUse"] == 2);
  CHECK_FALSE(first->contains("v6Size"));
  CHECK((*first)["conditions"][0]["lastTransitionTime"] == "2026-11-30T08:00:00Z");

  // The stored status is what we wrote: nothing to do, whatever the time.
  CHECK_FALSE(group_status_update(s, *first, "2026-11-30T09:00:00Z"));

  // In use changes: Ready still True, so its transition time stays.
  s.families[0].in_use = 3;
  auto second = group_status_update(s, *first, "2026-11-30T09:00:00Z");
  REQUIRE(second);
  CHECK((*second)["v4InUse"] == 3);
  CHECK((*second)["conditions"][0]["lastTransitionTime"] == "2026-11-30T08:00:00Z");

  // The group turns invalid: Ready flips (new time), Invalid appears, sizes go (null removes them).
  group_status bad;
  bad.name = "default";
  bad.conditions = {{"Ready", "False", "Invalid", "the spec is invalid"}, {"Invalid", "True", "InvalidSpec", "x"}};
  auto third = group_status_update(bad, *second, "2026-11-30T10:00:00Z");
  REQUIRE(third);
  CHECK((*third)["poolType"].is_null());
  CHECK((*third)["v4Size"].is_null());
  CHECK((*third)["v4InUse"].is_null());
  CHECK((*third)["conditions"][0]["lastTransitionTime"] == "2026-11-30T10:00:00Z");
  CHECK((*third)["conditions"][1]["type"] == "Invalid");
}

TEST_CASE("controller metrics pass promtool and carry the figures") {
  controller_figures f;
  f.leader = true;
  f.services_synced = true;
  f.status_patches = 5;
  f.list_errors = 2;
  f.conflicts = 1;
  f.kube_connections_opened = 7;
  auto text = render_controller_metrics(f);
  CHECK(text.find("herald_allocator_leader 1\n") != std::string::npos);
  CHECK(text.find("herald_allocator_informer_synced{resource=\"servicegroups\"} 0\n") != std::string::npos);
  CHECK(text.find("herald_allocator_writes_total{kind=\"status\"} 5\n") != std::string::npos);
  CHECK(text.find("herald_allocator_kube_errors_total{operation=\"list\"} 2\n") != std::string::npos);
  CHECK(text.find("herald_allocator_write_conflicts_total 1\n") != std::string::npos);
  CHECK(text.find("herald_allocator_kube_connections_opened_total 7\n") != std::string::npos);
  herald::test::promtool_check(text + render_metrics({}, {}));
}
