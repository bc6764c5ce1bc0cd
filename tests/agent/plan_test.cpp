// Unit tests of the node agent's planner (agent/plan.hpp, docs/agent.md):
// remote addresses under Cluster and Local policy, aggregation, attributes,
// peers by node selector and family, exclusion, shared and dual-stack
// addresses, local-address election, weighted ECMP and diagnostics. Each
// scenario plans every node of a small cluster, as the three agents would.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>

#include "agent/plan.hpp"
#include "result_catch.hpp"

using namespace herald;
using namespace herald::agent;
using nlohmann::json;

namespace {

using clock_type = std::chrono::steady_clock;
const clock_type::time_point t0 = clock_type::time_point{} + std::chrono::hours(1);

kube::node make_node(std::string name, kube::string_map labels = {}, std::string internal_ip = "") {
  kube::node n;
  n.meta.name = std::move(name);
  n.meta.labels = std::move(labels);
  if (!internal_ip.empty()) n.addresses.push_back({"InternalIP", internal_ip});
  n.conditions.push_back({"Ready", "True", ""});
  return n;
}

node_lease make_lease(std::string node, std::vector<std::string> subnets = {}, bool live = true) {
  node_lease l;
  l.node = std::move(node);
  for (auto& s : subnets) {
    auto spec = netlink::address_spec::parse(s);
    REQUIRE(spec);
    l.subnets.push_back({netlink::network_of(spec->address, spec->prefix_len), spec->prefix_len});
  }
  l.expires = live ? t0 + std::chrono::seconds(10) : t0 - std::chrono::seconds(1);
  return l;
}

kube::service make_service(std::string name, std::vector<std::string> ips, std::string group = "pool",
                           std::string policy = "Cluster", std::string pool_type = "remote") {
  kube::service s;
  s.meta.ns = "default";
  s.meta.name = std::move(name);
  s.type = "LoadBalancer";
  s.external_traffic_policy = std::move(policy);
  s.meta.annotations[allocator::annotation::allocated_by] = "herald";
  s.meta.annotations[allocator::annotation::allocated_from] = std::move(group);
  s.meta.annotations[allocator::annotation::pool_type] = std::move(pool_type);
  for (auto& ip : ips) s.ingress.push_back({ip, "", "VIP", {}});
  return s;
}

struct ep {
  std::string node;
  bool ready = true;
  bool terminating = false;
};

kube::endpoint_slice make_slice(std::string service, std::string family, std::vector<ep> endpoints,
                                std::string suffix = "a") {
  kube::endpoint_slice sl;
  sl.meta.ns = "default";
  sl.meta.name = service + "-" + suffix;
  sl.meta.labels[std::string(kube::service_name_label)] = service;
  sl.address_type = std::move(family);
  int n = 1;
  for (auto& e : endpoints) {
    kube::endpoint k;
    k.addresses.push_back(sl.address_type == "IPv4" ? "10.0.0." + std::to_string(n++) : "fd00::" + std::to_string(n++));
    k.node_name = e.node;
    k.conditions.ready = e.ready;
    k.conditions.terminating = e.terminating;
    sl.endpoints.push_back(std::move(k));
  }
  return sl;
}

group_entry make_group(json spec) {
  kube::custom_resource r;
  r.meta.name = "g";
  r.spec = std::move(spec);
  auto e = group_entry_from(r);
  REQUIRE(e.error == "");
  return e;
}

// A remote group with host routes (aggregation /32 and /128); `agg` sets the
// IPv4 aggregation ("default" is the subnet's length, as in PureLB).
json remote_pool(std::string v4 = "203.0.113.0/24", std::string v6 = "2001:db8:5::/64", std::string agg = "/32") {
  json body = {{"v4pools", {{{"pool", v4}, {"subnet", v4}, {"aggregation", agg}}}},
               {"v6pools", {{{"pool", v6}, {"subnet", v6}, {"aggregation", "/128"}}}}};
  return {{"remote", body}};
}

bgp_peer make_peer(std::string name, std::string address, json extra = json::object()) {
  json spec = {{"peerAddress", address}, {"peerASN", 65000}, {"myASN", 65001}};
  spec.merge_patch(extra);
  kube::custom_resource r;
  r.meta.ns = "herald-system";
  r.meta.name = std::move(name);
  r.spec = spec;
  auto p = parse_bgp_peer(r, "herald-system");
  REQUIRE(p);
  return *p;
}

// Three live nodes on 192.0.2.0/24 and 2001:db8:1::/64, an IPv4 router and an
// IPv6 router (each negotiating only its own family).
cluster_state three_nodes() {
  cluster_state s;
  s.now = t0;
  for (std::string n : {"n1", "n2", "n3"}) {
    s.nodes.push_back(make_node(n, {{"kubernetes.io/hostname", n}}));
    s.leases.push_back(make_lease(n, {"192.0.2.0/24", "2001:db8:1::/64"}));
  }
  s.groups["pool"] = make_group(remote_pool());
  s.peers.push_back(make_peer("tor-v4", "198.51.100.1", {{"families", {"ipv4-unicast"}}}));
  s.peers.push_back(make_peer("tor-v6", "2001:db8:ff::1", {{"families", {"ipv6-unicast"}}}));
  return s;
}

node_facts facts_for(const std::string& node) {
  node_facts f;
  f.local_interface = "eth0";
  f.local_subnets = {{netlink::ip_address(boost::asio::ip::make_address("192.0.2.0")), 24},
                     {netlink::ip_address(boost::asio::ip::make_address("2001:db8:1::")), 64}};
  auto i = std::to_string(10 + (node.back() - '0'));
  f.addresses = {boost::asio::ip::make_address("192.0.2." + i), boost::asio::ip::make_address("2001:db8:1::" + i)};
  return f;
}

std::map<std::string, node_plan> plan_all(const cluster_state& s, std::vector<std::string> nodes = {"n1", "n2", "n3"}) {
  std::map<std::string, node_plan> out;
  for (auto& n : nodes) out[n] = plan_node(s, n, facts_for(n));
  return out;
}

std::vector<std::string> dummy_cidrs(const node_plan& p) {
  std::vector<std::string> out;
  for (auto& a : p.dummy_addresses) out.push_back(a.spec.to_string());
  return out;
}
std::vector<std::string> local_cidrs(const node_plan& p) {
  std::vector<std::string> out;
  for (auto& a : p.local_addresses) out.push_back(a.spec.to_string());
  return out;
}
std::vector<std::string> route_prefixes(const node_plan& p) {
  std::vector<std::string> out;
  for (auto& [prefix, attrs] : p.speaker.routes) out.push_back(prefix.to_string());
  return out;
}
const bgp::route_attrs& route_attrs_of(const node_plan& p, const std::string& prefix) {
  for (auto& [pf, attrs] : p.speaker.routes)
    if (pf.to_string() == prefix) return *attrs;
  FAIL("no route " << prefix);
  throw std::logic_error("unreachable");
}
const service_announcing& announcing_of(const node_plan& p, const std::string& name) {
  for (auto& a : p.announcing)
    if (a.name == name) return a;
  FAIL("no announcing entry for " << name);
  throw std::logic_error("unreachable");
}
bool has_diagnostic(const node_plan& p, const std::string& reason) {
  return std::any_of(p.diagnostics.begin(), p.diagnostics.end(), [&](auto& d) { return d.event.reason == reason; });
}
std::vector<std::string> peer_addresses(const bgp::route_attrs& a) {
  std::vector<std::string> out;
  for (auto& p : a.peers) out.push_back(p.to_string());
  return out;
}

using strings = std::vector<std::string>;

}  // namespace

TEST_CASE("remote addresses: Cluster policy announces from every node, Local only where endpoints are ready",
          "[plan][remote]") {
  struct row {
    std::string what;
    std::string policy;
    std::vector<ep> endpoints;
    strings announcing;  // nodes whose plan carries the address and route
  };
  const std::vector<row> rows = {
      {"Cluster, no endpoints", "Cluster", {}, {"n1", "n2", "n3"}},
      {"Cluster, endpoints on one node", "Cluster", {{"n1"}}, {"n1", "n2", "n3"}},
      {"Local, endpoints on n1 and n2", "Local", {{"n1"}, {"n2"}, {"n2"}}, {"n1", "n2"}},
      {"Local, no endpoints", "Local", {}, {}},
      {"Local, n3's endpoint not ready", "Local", {{"n1"}, {"n3", false}}, {"n1"}},
      {"Local, n2's endpoint terminating", "Local", {{"n1"}, {"n2", true, true}}, {"n1"}},
      {"Local, endpoint without a node", "Local", {{""}}, {}},
  };
  REQUIRE(!rows.empty());
  for (auto& r : rows) {
    INFO(r.what);
    auto s = three_nodes();
    s.services.push_back(make_service("web", {"203.0.113.10"}, "pool", r.policy));
    s.endpoint_slices.push_back(make_slice("web", "IPv4", r.endpoints));
    auto plans = plan_all(s);
    strings announcing;
    for (auto& [node, p] : plans) {
      bool has_address = dummy_cidrs(p) == strings{"203.0.113.10/32"};
      bool has_route = route_prefixes(p) == strings{"203.0.113.10/32"};
      CHECK(has_address == has_route);  // the dummy link holds exactly what is announced
      if (has_route) announcing.push_back(node);
      CHECK(announcing_of(p, "web").v4_nodes == r.announcing);  // the same cluster-wide view on every node
      CHECK(p.dummy_link == "kube-lb0");
    }
    CHECK(announcing == r.announcing);
  }
}

TEST_CASE("remote addresses: dummy address specs and route attributes from the group", "[plan][remote]") {
  auto s = three_nodes();
  json spec = remote_pool();
  spec["remote"]["communities"] = {"65000:100", "no-export"};
  spec["remote"]["largeCommunities"] = {"65000:1:2"};
  spec["remote"]["localPref"] = 200;
  spec["remote"]["med"] = 50;
  s.groups["pool"] = make_group(spec);
  s.services.push_back(make_service("web", {"203.0.113.10", "2001:db8:5::10"}));
  auto p = plan_node(s, "n1", facts_for("n1"));

  REQUIRE(p.dummy_addresses.size() == 2);
  auto& a = p.dummy_addresses[0].spec;
  CHECK(a.to_string() == "203.0.113.10/32");
  CHECK(a.noprefixroute);
  CHECK(!a.finite());
  CHECK(p.dummy_addresses[0].services == strings{"default/web"});
  CHECK(p.dummy_addresses[1].spec.to_string() == "2001:db8:5::10/128");
  CHECK(p.dummy_addresses[1].spec.nodad);

  auto& v4 = route_attrs_of(p, "203.0.113.10/32");
  CHECK(v4.communities == std::vector<std::uint32_t>{65000u << 16 | 100, bgp::wire::community::no_export});
  REQUIRE(v4.large_communities.size() == 1);
  CHECK(v4.large_communities[0].to_string() == "65000:1:2");
  CHECK(v4.local_pref == 200u);
  CHECK(v4.med == 50u);
  CHECK(v4.ext_communities.empty());
  // Each family goes only to the peers of that family.
  CHECK(peer_addresses(v4) == strings{"198.51.100.1"});
  CHECK(peer_addresses(route_attrs_of(p, "2001:db8:5::10/128")) == strings{"2001:db8:ff::1"});
}

TEST_CASE("remote addresses: LBNodeAgent lifetimes and noPrefixRoute apply to the dummy link", "[plan][remote]") {
  auto s = three_nodes();
  node_agent_settings settings;
  settings.name = "herald-system/custom";
  settings.dummy_interface = "lb-dummy";
  settings.valid_lifetime = 300;
  settings.preferred_lifetime = 100;
  settings.noprefixroute = false;
  s.node_agents.push_back(settings);
  s.services.push_back(make_service("web", {"203.0.113.10"}));
  auto p = plan_node(s, "n2", facts_for("n2"));
  CHECK(p.dummy_link == "lb-dummy");
  REQUIRE(p.dummy_addresses.size() == 1);
  CHECK(p.dummy_addresses[0].spec.valid_lifetime == 300);
  CHECK(p.dummy_addresses[0].spec.preferred_lifetime == 100);
  CHECK(!p.dummy_addresses[0].spec.noprefixroute);
}

TEST_CASE("aggregation: one aggregate route while any Service inside it needs it", "[plan][aggregation]") {
  struct row {
    std::string what;
    std::vector<std::pair<std::string, std::string>> services;  // name, address
    strings routes;
    strings addresses;
  };
  const std::vector<row> rows = {
      {"two Services in one /24", {{"a", "203.0.113.10"}, {"b", "203.0.113.20"}}, {"203.0.113.0/24"},
       {"203.0.113.10/24", "203.0.113.20/24"}},
      {"one left", {{"b", "203.0.113.20"}}, {"203.0.113.0/24"}, {"203.0.113.20/24"}},
      {"none left", {}, {}, {}},
  };
  const std::vector<std::string> aggregations = {"/24", "default"};  // default: the subnet's /24
  REQUIRE(!rows.empty());
  for (auto& r : rows) {
    INFO(r.what);
    auto s = three_nodes();
    for (auto& agg : aggregations) {
      s.groups["pool"] = make_group(remote_pool("203.0.113.0/24", "2001:db8:5::/64", agg));
      s.services.clear();
      for (auto& [name, ip] : r.services) s.services.push_back(make_service(name, {ip}));
      auto p = plan_node(s, "n1", facts_for("n1"));
      CHECK(route_prefixes(p) == r.routes);
      CHECK(dummy_cidrs(p) == r.addresses);
    }
  }
}

TEST_CASE("aggregation under Local policy: the aggregate stays while one Service has endpoints here",
          "[plan][aggregation]") {
  auto s = three_nodes();
  s.groups["pool"] = make_group(remote_pool("203.0.113.0/24", "2001:db8:5::/64", "/25"));
  s.services.push_back(make_service("a", {"203.0.113.10"}, "pool", "Local"));
  s.services.push_back(make_service("b", {"203.0.113.20"}, "pool", "Local"));
  s.endpoint_slices.push_back(make_slice("a", "IPv4", {{"n1"}}));
  s.endpoint_slices.push_back(make_slice("b", "IPv4", {{"n2"}}));
  auto plans = plan_all(s);
  CHECK(route_prefixes(plans["n1"]) == strings{"203.0.113.0/25"});
  CHECK(dummy_cidrs(plans["n1"]) == strings{"203.0.113.10/25"});
  CHECK(route_prefixes(plans["n2"]) == strings{"203.0.113.0/25"});
  CHECK(dummy_cidrs(plans["n2"]) == strings{"203.0.113.20/25"});
  CHECK(route_prefixes(plans["n3"]).empty());
  CHECK(has_diagnostic(plans["n1"], "AggregatedLocalPolicy"));
}

TEST_CASE("shared and dual-stack addresses", "[plan][shared]") {
  auto s = three_nodes();
  // Two Services sharing one IPv4 address (allow-shared-ip), one of them dual stack.
  s.services.push_back(make_service("http", {"203.0.113.10", "2001:db8:5::10"}));
  s.services.push_back(make_service("dns", {"203.0.113.10"}));
  auto p = plan_node(s, "n3", facts_for("n3"));
  REQUIRE(p.dummy_addresses.size() == 2);
  CHECK(p.dummy_addresses[0].spec.to_string() == "203.0.113.10/32");
  CHECK(p.dummy_addresses[0].services == strings{"default/dns", "default/http"});
  CHECK(p.dummy_addresses[1].spec.to_string() == "2001:db8:5::10/128");
  CHECK(route_prefixes(p) == strings{"203.0.113.10/32", "2001:db8:5::10/128"});
  auto& http = announcing_of(p, "http");
  CHECK(http.v4_nodes == strings{"n1", "n2", "n3"});
  CHECK(http.v6_nodes == strings{"n1", "n2", "n3"});
  CHECK(announcing_of(p, "dns").v6_nodes.empty());

  // Shared under Local: announced while either Service has an endpoint here.
  s.services.edit(0).external_traffic_policy = "Local";
  s.services.edit(1).external_traffic_policy = "Local";
  s.endpoint_slices.push_back(make_slice("dns", "IPv4", {{"n2"}}));
  s.endpoint_slices.push_back(make_slice("http", "IPv6", {{"n1"}}));
  auto plans = plan_all(s);
  CHECK(route_prefixes(plans["n1"]) == strings{"2001:db8:5::10/128"});
  CHECK(route_prefixes(plans["n2"]) == strings{"203.0.113.10/32"});
  CHECK(route_prefixes(plans["n3"]).empty());
  CHECK(announcing_of(plans["n1"], "http").v4_nodes.empty());  // http's own IPv4 endpoints: none
  CHECK(announcing_of(plans["n1"], "dns").v4_nodes == strings{"n2"});
}

TEST_CASE("peers: by node selector, family, password and duplicates", "[plan][peers]") {
  auto s = three_nodes();
  s.nodes[0].meta.labels["rack"] = "a";
  s.peers.clear();
  s.peers.push_back(make_peer("rack-a", "198.51.100.1", {{"nodeSelector", {{"matchLabels", {{"rack", "a"}}}}}}));
  s.peers.push_back(make_peer("everyone", "198.51.100.2",
                              {{"password", {{"secretRef", {{"name", "bgp-auth"}}}}},
                               {"bfd", {{"minTx", 100}, {"minRx", 100}, {"multiplier", 3}}}}));
  s.peers.push_back(make_peer("v6-only", "2001:db8:ff::1", {{"families", {"ipv6-unicast"}}}));
  s.peers.push_back(make_peer("zz-duplicate", "198.51.100.2"));
  kube::secret secret;
  secret.meta.ns = "herald-system";
  secret.meta.name = "bgp-auth";
  secret.data["password"] = "s3cret";
  s.secrets.push_back(secret);
  s.services.push_back(make_service("web", {"203.0.113.10", "2001:db8:5::10"}));

  auto plans = plan_all(s);
  auto addresses = [](const node_plan& p) {
    strings out;
    for (auto& c : p.speaker.peers) out.push_back(c.address.to_string());
    return out;
  };
  CHECK(addresses(plans["n1"]) == strings{"198.51.100.2", "198.51.100.1", "2001:db8:ff::1"});
  CHECK(addresses(plans["n2"]) == strings{"198.51.100.2", "2001:db8:ff::1"});
  auto& everyone = plans["n2"].speaker.peers[0];
  CHECK(everyone.password == "s3cret");
  REQUIRE(everyone.bfd);
  CHECK(everyone.bfd->min_tx_ms == 100);
  CHECK(plans["n2"].speaker.local_asn == 65001);
  CHECK(peer_addresses(route_attrs_of(plans["n1"], "203.0.113.10/32")) == strings{"198.51.100.2", "198.51.100.1"});
  CHECK(peer_addresses(route_attrs_of(plans["n2"], "203.0.113.10/32")) == strings{"198.51.100.2"});
  // The v4/v6 "everyone" peer negotiates both families: it gets the IPv6 route too.
  CHECK(peer_addresses(route_attrs_of(plans["n2"], "2001:db8:5::10/128")) == strings{"198.51.100.2", "2001:db8:ff::1"});
  CHECK(has_diagnostic(plans["n1"], "DuplicatePeer"));

  SECTION("a missing Secret takes only that peer out, with a diagnostic") {
    s.secrets.clear();
    auto p = plan_node(s, "n2", facts_for("n2"));
    CHECK(addresses(p) == strings{"2001:db8:ff::1"});
    CHECK(has_diagnostic(p, "PasswordUnavailable"));
    // No IPv4 peer left on n2: the IPv4 address is neither announced nor put on the link.
    CHECK(route_prefixes(p) == strings{"2001:db8:5::10/128"});
    CHECK(dummy_cidrs(p) == strings{"2001:db8:5::10/128"});
    CHECK(announcing_of(p, "web").v4_nodes == strings{"n1"});
  }
  SECTION("a Secret in another namespace is never read") {
    s.secrets[0].meta.ns = "default";
    auto p = plan_node(s, "n2", facts_for("n2"));
    CHECK(has_diagnostic(p, "PasswordUnavailable"));
  }
}

TEST_CASE("exclusion: the exclude-from-external-load-balancers label stops announcing, cordon does not",
          "[plan][exclude]") {
  struct row {
    std::string what;
    kube::string_map labels;
    bool unschedulable;
    bool announces;
  };
  const std::vector<row> rows = {
      {"plain node", {}, false, true},
      {"labelled", {{exclude_label, ""}}, false, false},
      {"labelled true", {{exclude_label, "true"}}, false, false},
      {"cordoned", {}, true, true},
  };
  REQUIRE(!rows.empty());
  for (auto& r : rows) {
    INFO(r.what);
    auto s = three_nodes();
    s.nodes[1].meta.labels = r.labels;
    s.nodes[1].unschedulable = r.unschedulable;
    s.services.push_back(make_service("web", {"203.0.113.10"}));
    auto plans = plan_all(s);
    CHECK(!plans["n2"].dummy_addresses.empty() == r.announces);
    CHECK(!plans["n2"].speaker.routes.empty() == r.announces);
    auto& v4 = announcing_of(plans["n1"], "web").v4_nodes;
    CHECK((std::find(v4.begin(), v4.end(), "n2") != v4.end()) == r.announces);
  }
}

TEST_CASE("Services the planner leaves alone", "[plan][services]") {
  auto s = three_nodes();
  auto not_lb = make_service("cluster-ip", {"203.0.113.1"});
  not_lb.type = "ClusterIP";
  auto other = make_service("metallb", {"203.0.113.2"});
  other.meta.annotations[allocator::annotation::allocated_by] = "someone-else";
  auto deleting = make_service("going", {"203.0.113.3"});
  deleting.meta.deleting = true;
  auto hostname = make_service("hostname", {});
  hostname.ingress.push_back({"", "lb.example.net", "", {}});
  for (auto& svc : {not_lb, other, deleting, hostname}) s.services.push_back(svc);
  auto p = plan_node(s, "n1", facts_for("n1"));
  CHECK(p.dummy_addresses.empty());
  CHECK(p.speaker.routes.empty());
  CHECK(p.announcing.size() == 1);  // only the Herald Service with a hostname, and it has no addresses
}

namespace {
// What plan_node makes of a node, written out for comparison: everything
// but the announcing entry of `skip`, which must be there and empty.
std::string plan_outline(const node_plan& p, const std::string& skip = "") {
  std::ostringstream out;
  for (auto& a : p.dummy_addresses) out << "dummy " << a.spec.to_string() << " " << a.services.size() << "\n";
  for (auto& a : p.local_addresses) out << "local " << a.spec.to_string() << " " << a.services.size() << "\n";
  for (auto& [prefix, attrs] : p.speaker.routes)
    out << "route " << prefix.to_string() << " " << attrs->communities.size() << " "
        << peer_addresses(*attrs).size() << "\n";
  for (auto& a : p.announcing) {
    if (a.name == skip) {
      CHECK(a.v4_nodes.empty());
      CHECK(a.v6_nodes.empty());
      continue;
    }
    out << "announcing " << a.name << " " << a.v4_nodes.size() << " " << a.v6_nodes.size() << " " << a.writer << "\n";
  }
  for (auto& d : p.diagnostics) out << "diagnostic " << d.event.name << " " << d.event.reason << "\n";
  for (auto& st : p.peer_statuses) out << "status " << st.name << " " << st.accepted << "\n";
  return out.str();
}
}  // namespace

TEST_CASE("a Service that cannot change a plan plans as if it were absent", "[plan][services][filter]") {
  // The agent skips planning for a change between two such states
  // (agent/runtime.cpp watch()); that is only right if the plan is the same.
  auto base = three_nodes();
  base.services.push_back(make_service("web", {"203.0.113.1", "2001:db8:5::1"}, "pool", "Local"));
  base.endpoint_slices.push_back(make_slice("web", "IPv4", {{"n1"}, {"n2"}}));

  auto cluster_ip = make_service("cluster-ip", {});
  cluster_ip.type = "ClusterIP";
  auto foreign = make_service("metallb", {"203.0.113.2"});
  foreign.meta.annotations[allocator::annotation::allocated_by] = "someone-else";
  auto unallocated = make_service("unallocated", {}, "pool", "Local");
  auto unallocated_orphan = make_service("unallocated-orphan", {}, "deleted-group");
  auto deleting = make_service("going", {"203.0.113.3"});
  deleting.meta.deleting = true;
  std::vector<kube::service> cannot{cluster_ip, foreign, unallocated, unallocated_orphan, deleting};
  REQUIRE(cannot.size() == 5);

  for (const auto& svc : cannot) {
    INFO(svc.meta.name);
    CHECK_FALSE(service_can_change_plan(svc, "herald"));
    auto with = base;
    with.services.push_back(svc);
    with.endpoint_slices.push_back(make_slice(svc.meta.name, "IPv4", {{"n1"}, {"n3"}}));
    for (std::string node : {"n1", "n2", "n3"}) {
      INFO(node);
      auto without_plan = plan_node(base, node, facts_for(node));
      auto with_plan = plan_node(with, node, facts_for(node));
      CHECK(plan_outline(with_plan, svc.meta.name) == plan_outline(without_plan));
      CHECK(!plan_outline(without_plan).empty());
    }
  }

  // A planned Service under Cluster: its slices are not read either, so
  // their changes are not planned (only a Local Service's are).
  auto with_cluster = base;
  with_cluster.services.push_back(make_service("cluster-web", {"203.0.113.5"}));
  auto slices_a = with_cluster, slices_b = with_cluster;
  slices_a.endpoint_slices.push_back(make_slice("cluster-web", "IPv4", {{"n1"}}));
  slices_b.endpoint_slices.push_back(make_slice("cluster-web", "IPv4", {{"n2"}, {"n3", false}}));
  for (std::string node : {"n1", "n2", "n3"}) {
    INFO(node);
    CHECK(plan_outline(plan_node(slices_a, node, facts_for(node))) ==
          plan_outline(plan_node(slices_b, node, facts_for(node))));
  }

  // Those that can: an address, or announcing annotations left to take away
  // (a node's own write, before the address went).
  CHECK(service_can_change_plan(base.services[0], "herald"));
  CHECK_FALSE(service_can_change_plan(base.services[0], "someone-else"));
  auto hostname = make_service("hostname", {});
  hostname.ingress.push_back({"", "lb.example.net", "", {}});
  CHECK(service_can_change_plan(hostname, "herald"));
  for (const char* key : {annotation::announcing_v4, annotation::announcing_v6}) {
    auto announced = make_service("announced", {});
    CHECK_FALSE(service_can_change_plan(announced, "herald"));
    announced.meta.annotations[key] = "n1";
    CHECK(service_can_change_plan(announced, "herald"));
  }
}

TEST_CASE("an update of only the announcing annotations changes no plan", "[plan][services][filter]") {
  // The agent settles such an update against its last plan instead of
  // planning (agent/runtime.cpp announcing_update_settled); that is only
  // right if no node's plan reads the annotations.
  auto base = three_nodes();
  base.services.push_back(make_service("web", {"203.0.113.1", "2001:db8:5::1"}, "pool", "Local"));
  base.endpoint_slices.push_back(make_slice("web", "IPv4", {{"n1"}, {"n2"}}));
  base.services.push_back(make_service("pending", {}));  // no address, annotations left to take away
  base.services.edit(1).meta.annotations[annotation::announcing_v4] = "n1";

  struct edit {
    const char* what;
    std::function<void(kube::service&)> apply;
  };
  std::vector<edit> announcing_only{
      {"IPv4 nodes rewritten", [](kube::service& s) { s.meta.annotations[annotation::announcing_v4] = "n3"; }},
      {"IPv6 nodes added", [](kube::service& s) { s.meta.annotations[annotation::announcing_v6] = "n1,n2"; }},
      {"both removed",
       [](kube::service& s) {
         s.meta.annotations.erase(annotation::announcing_v4);
         s.meta.annotations.erase(annotation::announcing_v6);
       }},
      {"nothing the view holds", [](kube::service&) {}},
  };
  REQUIRE(announcing_only.size() == 4);
  for (std::size_t i = 0; i < base.services.size(); ++i) {
    for (const auto& e : announcing_only) {
      INFO(base.services[i].meta.name << ": " << e.what);
      auto after = base;
      auto& changed = after.services.edit(i);
      e.apply(changed);
      changed.meta.resource_version = "2";
      CHECK(only_announcing_changed(base.services[i], after.services[i]));
      for (std::string node : {"n1", "n2", "n3"}) {
        INFO(node);
        auto before_plan = plan_outline(plan_node(base, node, facts_for(node)));
        CHECK(plan_outline(plan_node(after, node, facts_for(node))) == before_plan);
        CHECK(!before_plan.empty());
      }
    }
  }

  // Anything else the view holds is a change the agent plans for.
  std::vector<edit> others{
      {"address", [](kube::service& s) { s.ingress[0].ip = "203.0.113.2"; }},
      {"group", [](kube::service& s) { s.meta.annotations[allocator::annotation::allocated_from] = "other"; }},
      {"allocator", [](kube::service& s) { s.meta.annotations[allocator::annotation::allocated_by] = "x"; }},
      {"allow-local annotation", [](kube::service& s) { s.meta.annotations[annotation::allow_local] = "true"; }},
      {"traffic policy", [](kube::service& s) { s.external_traffic_policy = "Cluster"; }},
      {"label", [](kube::service& s) { s.meta.labels["tier"] = "front"; }},
      {"deleting", [](kube::service& s) { s.meta.deleting = true; }},
      {"type", [](kube::service& s) { s.type = "NodePort"; }},
      {"port", [](kube::service& s) { s.ports.push_back({"https", "TCP", 443, "8443", 0, ""}); }},
  };
  REQUIRE(others.size() == 9);
  for (const auto& e : others) {
    INFO(e.what);
    auto after = base.services[0];
    e.apply(after);
    after.meta.annotations[annotation::announcing_v4] = "n1";  // with the annotations, still a change
    CHECK_FALSE(only_announcing_changed(base.services[0], after));
  }
}

TEST_CASE("a missing or invalid group keeps the addresses with default attributes", "[plan][groups]") {
  auto s = three_nodes();
  s.services.push_back(make_service("orphan", {"203.0.113.10"}, "deleted-group"));
  group_entry invalid;
  invalid.error = "remote: no pool";
  s.groups["broken"] = invalid;
  s.services.push_back(make_service("broken", {"203.0.113.11"}, "broken"));
  s.services.push_back(make_service("local-orphan", {"192.0.2.50"}, "deleted-local", "Cluster", "local"));
  s.leases.clear();
  s.leases.push_back(make_lease("n1", {"192.0.2.0/24"}));
  auto p = plan_node(s, "n1", facts_for("n1"));
  CHECK(route_prefixes(p) == strings{"203.0.113.10/32", "203.0.113.11/32"});
  CHECK(route_attrs_of(p, "203.0.113.10/32").communities.empty());
  CHECK(local_cidrs(p) == strings{"192.0.2.50/24"});  // pool type from the annotation
  CHECK(has_diagnostic(p, "GroupUnavailable"));
  auto n = std::count_if(p.diagnostics.begin(), p.diagnostics.end(),
                         [](auto& d) { return d.event.reason == "GroupUnavailable"; });
  CHECK(n == 3);
  for (auto& d : p.diagnostics) {
    CHECK(d.event.kind == "Service");
    CHECK(!d.event.message.empty());
  }
}

TEST_CASE("diagnostics: every agent logs, one agent records the Event", "[plan][diagnostics]") {
  auto s = three_nodes();
  s.invalid.push_back({"BGPPeer", "herald-system", "bad", "spec.peerASN: must be an integer from 1 to 4294967295"});
  s.services.push_back(make_service("orphan", {"203.0.113.10"}, "deleted-group"));
  auto plans = plan_all(s);
  std::map<std::string, int> emitted;
  for (auto& [node, p] : plans) {
    CHECK(has_diagnostic(p, "InvalidBGPPeer"));
    CHECK(has_diagnostic(p, "GroupUnavailable"));
    for (auto& d : p.diagnostics)
      if (d.emit_event) ++emitted[d.event.reason];
  }
  CHECK(emitted["InvalidBGPPeer"] == 1);
  CHECK(emitted["GroupUnavailable"] == 1);
  auto& d = plans["n1"].diagnostics;
  auto bad = std::find_if(d.begin(), d.end(), [](auto& x) { return x.event.reason == "InvalidBGPPeer"; });
  REQUIRE(bad != d.end());
  CHECK(bad->event.ns == "herald-system");
  CHECK(bad->event.name == "bad");
  CHECK_THAT(bad->event.message, Catch::Contains("spec.peerASN"));
}

TEST_CASE("BGPPeer status: one writer per peer, Accepted or the reason it is ignored", "[plan][peers][status]") {
  auto s = three_nodes();
  s.peers.clear();
  s.peers.push_back(make_peer("good", "198.51.100.1"));
  s.peers.push_back(make_peer("locked", "198.51.100.2", {{"password", {{"secretRef", {{"name", "absent"}}}}}}));
  s.peers.push_back(make_peer("zz-duplicate", "198.51.100.1"));
  s.invalid.push_back({"BGPPeer", "herald-system", "bad", "spec.peerASN: must be an integer from 1 to 4294967295"});
  auto plans = plan_all(s);
  std::map<std::string, peer_status> written;  // name → status, over all nodes
  std::map<std::string, int> writers;
  for (auto& [node, p] : plans)
    for (auto& st : p.peer_statuses) {
      written[st.name] = st;
      ++writers[st.name];
    }
  REQUIRE(written.size() == 4);
  for (auto& [name, n] : writers) CHECK(n == 1);
  CHECK(written["good"].accepted);
  CHECK(written["good"].reason == "Accepted");
  CHECK_FALSE(written["locked"].accepted);
  CHECK(written["locked"].reason == "PasswordUnavailable");
  CHECK(written["zz-duplicate"].reason == "DuplicatePeer");
  CHECK(written["bad"].reason == "InvalidBGPPeer");
  CHECK_THAT(written["bad"].message, Catch::Contains("spec.peerASN"));
  // The speaker's logs and `gobgp neighbor` name the object, not only the address.
  REQUIRE_FALSE(plans["n1"].speaker.peers.empty());
  CHECK(plans["n1"].speaker.peers[0].description == "BGPPeer herald-system/good");
  CHECK(plans["n1"].speaker.peers[0].name() == "BGPPeer herald-system/good (198.51.100.1 AS65000)");

  SECTION("with no live node nobody writes a status") {
    s.leases.clear();
    for (auto& [node, p] : plan_all(s)) CHECK(p.peer_statuses.empty());
  }
}

TEST_CASE("announcing annotations: one writer per Service, the same on every node", "[plan][announcing]") {
  auto s = three_nodes();
  for (int i = 0; i < 30; ++i) s.services.push_back(make_service("svc" + std::to_string(i), {"203.0.113." + std::to_string(i)}));
  auto plans = plan_all(s);
  std::map<std::string, int> per_writer;
  for (std::size_t i = 0; i < s.services.size(); ++i) {
    auto& w = plans["n1"].announcing[i].writer;
    CHECK(plans["n2"].announcing[i].writer == w);
    CHECK(plans["n3"].announcing[i].writer == w);
    ++per_writer[w];
  }
  // Spread over the nodes rather than all on one.
  CHECK(per_writer.size() == 3);
  CHECK(per_writer.count("") == 0);

  SECTION("no live node, no writer") {
    for (auto& l : s.leases) l.expires = t0;
    CHECK(plan_node(s, "n1", facts_for("n1")).announcing[0].writer == "");
  }
}

TEST_CASE("router ID: BGPPeer override, the node's InternalIP, its own address, its name", "[plan][router-id]") {
  auto s = three_nodes();
  auto id = [&](const std::string& node, node_facts f) { return plan_node(s, node, f).speaker.router_id; };
  auto v4 = [](const char* text) { return bgp::wire::ip_address::parse(text)->v4_host_order(); };
  CHECK(id("n1", facts_for("n1")) == v4("192.0.2.11"));
  s.nodes[0].addresses.push_back({"InternalIP", "198.51.100.11"});
  CHECK(id("n1", facts_for("n1")) == v4("198.51.100.11"));
  s.peers[1] = make_peer("tor-v6", "2001:db8:ff::1", {{"routerID", "192.0.2.200"}});
  CHECK(id("n1", facts_for("n1")) == v4("192.0.2.200"));
  s.peers.pop_back();
  node_facts v6_only;
  v6_only.addresses = {boost::asio::ip::make_address("2001:db8:1::7")};
  auto hashed = id("n9", v6_only);
  CHECK(hashed != 0);
  CHECK(hashed == id("n9", v6_only));
}

TEST_CASE("LBNodeAgent selection: a specific selector beats a catch-all", "[plan][settings]") {
  auto s = three_nodes();
  s.nodes[0].meta.labels["edge"] = "true";
  node_agent_settings all;
  all.name = "herald-system/all";
  all.dummy_interface = "lb-all";
  node_agent_settings edge;
  edge.name = "herald-system/edge";
  edge.dummy_interface = "lb-edge";
  edge.node_selector.match_labels["edge"] = "true";
  CHECK(settings_for_node(s, "n1").dummy_interface == "kube-lb0");  // built-in defaults
  s.node_agents = {edge, all};
  CHECK(settings_for_node(s, "n1").dummy_interface == "lb-edge");
  CHECK(settings_for_node(s, "n2").dummy_interface == "lb-all");
  s.node_agents = {edge};
  CHECK(settings_for_node(s, "n2").dummy_interface == "kube-lb0");
}

// ---- local addresses (issue 8) ----

TEST_CASE("rendezvous hashing: deterministic, minimal movement on join and leave", "[plan][election]") {
  std::vector<std::string> keys;
  for (int i = 0; i < 400; ++i) keys.push_back("192.0.2." + std::to_string(i % 250) + (i >= 250 ? "x" : ""));
  REQUIRE(!keys.empty());
  const strings three = {"n1", "n2", "n3"};
  const strings four = {"n1", "n2", "n3", "n4"};
  const strings two = {"n1", "n3"};
  std::map<std::string, int> share;
  int moved_on_join = 0, moved_on_leave = 0;
  for (auto& k : keys) {
    auto w3 = rendezvous_winner(k, three);
    REQUIRE(w3);
    // Order of candidates does not matter.
    CHECK(rendezvous_winner(k, {"n3", "n1", "n2"}) == w3);
    ++share[*w3];
    auto w4 = rendezvous_winner(k, four);
    if (w4 != w3) {
      ++moved_on_join;
      CHECK(*w4 == "n4");  // a join takes keys only to the new node
    }
    auto w2 = rendezvous_winner(k, two);
    if (w2 != w3) {
      ++moved_on_leave;
      CHECK(*w3 == "n2");  // a leave moves only the leaver's keys
    }
  }
  CHECK(moved_on_join == Approx(keys.size() / 4.0).margin(keys.size() * 0.08));
  CHECK(moved_on_leave == share["n2"]);
  for (auto& n : three) CHECK(share[n] == Approx(keys.size() / 3.0).margin(keys.size() * 0.1));
  CHECK(!rendezvous_winner("192.0.2.1", {}));
  // Pinned values (computed independently from the documented hash, FNV-1a
  // plus the splitmix64 finaliser): the hash must not change between builds
  // or platforms, or agents of two versions would disagree during a rolling
  // upgrade.
  const std::vector<std::pair<std::string, std::string>> pinned = {
      {"192.0.2.50", "n1"}, {"192.0.2.51", "n1"}, {"2001:db8:1::10", "n3"}, {"default/web", "n2"}};
  for (auto& [key, winner] : pinned) CHECK(rendezvous_winner(key, three) == winner);
}

TEST_CASE("local addresses: exactly one node holds each, the same answer on every node", "[plan][local]") {
  auto s = three_nodes();
  json spec = {{"local", {{"v4pool", {{"pool", "192.0.2.100-192.0.2.199"}, {"subnet", "192.0.2.0/24"}}},
                          {"v6pool", {{"pool", "2001:db8:1::100-2001:db8:1::1ff"}, {"subnet", "2001:db8:1::/64"}}}}}};
  s.groups["lan"] = make_group(spec);
  for (int i = 0; i < 24; ++i)
    s.services.push_back(make_service("svc" + std::to_string(i),
                                      {"192.0.2." + std::to_string(100 + i), "2001:db8:1::1" + std::to_string(10 + i)},
                                      "lan", "Cluster", "local"));
  auto plans = plan_all(s);
  std::map<std::string, int> holders;
  std::map<std::string, int> per_node;
  for (auto& [node, p] : plans) {
    CHECK(p.dummy_addresses.empty());  // local addresses are never on the dummy link
    CHECK(p.speaker.routes.empty());   // nor announced by BGP
    CHECK(p.local_link == "eth0");
    for (auto& a : p.local_addresses) {
      ++holders[a.spec.address.to_string()];
      ++per_node[node];
      CHECK(a.spec.prefix_len == (a.spec.address.is_v4() ? 24 : 64));
      CHECK(a.spec.noprefixroute);
      CHECK(a.spec.finite());
      CHECK(a.spec.valid_lifetime == default_local_valid_lifetime);
      CHECK(a.spec.preferred_lifetime == 0);
    }
  }
  CHECK(holders.size() == 48);
  for (auto& [addr, n] : holders) CHECK(n == 1);
  CHECK(per_node.size() == 3);  // spread over the nodes
  // The annotation names the winner, and every node agrees.
  for (int i = 0; i < 24; ++i) {
    auto name = "svc" + std::to_string(i);
    auto& a1 = announcing_of(plans["n1"], name);
    REQUIRE(a1.v4_nodes.size() == 1);
    CHECK(announcing_of(plans["n2"], name).v4_nodes == a1.v4_nodes);
    CHECK(announcing_of(plans["n3"], name).v6_nodes == a1.v6_nodes);
    auto& won = plans[a1.v4_nodes[0]].local_addresses;
    CHECK(std::any_of(won.begin(), won.end(),
                      [&](auto& a) { return a.spec.address.to_string() == "192.0.2." + std::to_string(100 + i); }));
  }
}

TEST_CASE("local addresses: candidates are live, not excluded, on the address's subnet", "[plan][local]") {
  struct row {
    std::string what;
    std::function<void(cluster_state&)> change;
    strings candidates;  // the winner must be rendezvous_winner over these
  };
  const std::vector<row> rows = {
      {"all three", [](cluster_state&) {}, {"n1", "n2", "n3"}},
      {"n2's Lease expired", [](cluster_state& s) { s.leases[1].expires = t0 - std::chrono::seconds(1); }, {"n1", "n3"}},
      {"n3 has no Lease", [](cluster_state& s) { s.leases.pop_back(); }, {"n1", "n2"}},
      {"n1 on another subnet", [](cluster_state& s) { s.leases[0] = make_lease("n1", {"198.51.100.0/24"}); }, {"n2", "n3"}},
      {"n3 excluded", [](cluster_state& s) { s.nodes[2].meta.labels[exclude_label] = ""; }, {"n1", "n2"}},
      {"nobody", [](cluster_state& s) { s.leases.clear(); }, {}},
  };
  REQUIRE(!rows.empty());
  for (auto& r : rows) {
    INFO(r.what);
    for (int i = 0; i < 10; ++i) {
      auto s = three_nodes();
      s.groups["lan"] = make_group({{"local", {{"v4pool", {{"pool", "192.0.2.128/25"}, {"subnet", "192.0.2.0/24"}}}}}});
      auto ip = "192.0.2." + std::to_string(130 + i);
      s.services.push_back(make_service("svc", {ip}, "lan", "Cluster", "local"));
      r.change(s);
      auto want = rendezvous_winner(ip, r.candidates);
      auto plans = plan_all(s);
      for (auto& [node, p] : plans) CHECK((local_cidrs(p) == strings{ip + "/24"}) == (want == node));
      if (!want) CHECK(has_diagnostic(plans["n1"], "NoCandidateNode"));
    }
  }
}

TEST_CASE("local addresses: election moves only the leaver's addresses", "[plan][local][election]") {
  auto s = three_nodes();
  s.groups["lan"] = make_group({{"local", {{"v4pool", {{"pool", "192.0.2.0/24"}, {"subnet", "192.0.2.0/24"}}}}}});
  for (int i = 1; i < 101; ++i)
    s.services.push_back(make_service("svc" + std::to_string(i), {"192.0.2." + std::to_string(i)}, "lan", "Cluster", "local"));
  auto winners = [&](const cluster_state& st) {
    std::map<std::string, std::string> out;
    for (auto& a : plan_node(st, "n1", facts_for("n1")).announcing) out[a.name] = a.v4_nodes.at(0);
    return out;
  };
  auto before = winners(s);
  REQUIRE(before.size() == 100);
  auto after_leave = s;
  after_leave.leases[1].expires = t0;  // n2 stops renewing
  int moved = 0;
  for (auto& [svc, node] : winners(after_leave))
    if (node != before[svc]) {
      ++moved;
      CHECK(before[svc] == "n2");
    }
  CHECK(moved == std::count_if(before.begin(), before.end(), [](auto& kv) { return kv.second == "n2"; }));
  CHECK(moved > 0);

  auto after_join = s;
  after_join.nodes.push_back(make_node("n4"));
  after_join.leases.push_back(make_lease("n4", {"192.0.2.0/24"}));
  for (auto& [svc, node] : winners(after_join))
    if (node != before[svc]) CHECK(node == "n4");
}

TEST_CASE("local addresses: Local policy refused unless allow-local, then only nodes with endpoints",
          "[plan][local]") {
  auto s = three_nodes();
  s.groups["lan"] = make_group({{"local", {{"v4pool", {{"pool", "192.0.2.128/25"}, {"subnet", "192.0.2.0/24"}}}}}});
  s.services.push_back(make_service("svc", {"192.0.2.140"}, "lan", "Local", "local"));
  s.endpoint_slices.push_back(make_slice("svc", "IPv4", {{"n2"}, {"n3", false}}));
  auto plans = plan_all(s);
  for (auto& [node, p] : plans) {
    CHECK(p.local_addresses.empty());
    CHECK(has_diagnostic(p, "LocalPolicyRefused"));
  }
  s.services.edit(0).meta.annotations[annotation::allow_local] = "true";
  plans = plan_all(s);
  CHECK(local_cidrs(plans["n2"]) == strings{"192.0.2.140/24"});  // the only node with a ready endpoint
  CHECK(plans["n1"].local_addresses.empty());
  CHECK(plans["n3"].local_addresses.empty());
  CHECK(announcing_of(plans["n1"], "svc").v4_nodes == strings{"n2"});
}

TEST_CASE("local addresses: the winner needs the subnet on its own interface", "[plan][local]") {
  auto s = three_nodes();
  s.groups["lan"] = make_group({{"local", {{"v4pool", {{"pool", "192.0.2.128/25"}, {"subnet", "192.0.2.0/24"}}}}}});
  s.services.push_back(make_service("svc", {"192.0.2.140"}, "lan", "Cluster", "local"));
  auto winner = *rendezvous_winner("192.0.2.140", {"n1", "n2", "n3"});
  node_facts f = facts_for(winner);
  f.local_subnets.clear();  // the Lease is stale: the interface lost its address
  auto p = plan_node(s, winner, f);
  CHECK(p.local_addresses.empty());
  CHECK(has_diagnostic(p, "SubnetMismatch"));
}

// ---- weighted ECMP (issue 8) ----

TEST_CASE("weighted ECMP: link bandwidth proportional to ready local endpoints", "[plan][weighted]") {
  struct row {
    std::string what;
    std::string policy;
    bool weighted;
    std::vector<ep> endpoints;
    std::map<std::string, float> mbit;  // node → Mbit/s; absent: no community on its route
  };
  const std::vector<row> rows = {
      {"1, 2 and 3 endpoints", "Local", true, {{"n1"}, {"n2"}, {"n2"}, {"n3"}, {"n3"}, {"n3"}}, {{"n1", 1}, {"n2", 2}, {"n3", 3}}},
      {"scaled: 4 on n1, 1 on n3", "Local", true, {{"n1"}, {"n1"}, {"n1"}, {"n1"}, {"n3"}}, {{"n1", 4}, {"n3", 1}}},
      {"unready and terminating do not weigh", "Local", true, {{"n1"}, {"n1", false}, {"n1", true, true}}, {{"n1", 1}}},
      {"off: plain ECMP", "Local", false, {{"n1"}, {"n2"}, {"n2"}}, {}},
      {"Cluster: kube-proxy spreads anyway, no weights", "Cluster", true, {{"n1"}}, {}},
  };
  REQUIRE(!rows.empty());
  for (auto& r : rows) {
    INFO(r.what);
    auto s = three_nodes();
    json spec = remote_pool();
    spec["remote"]["weightedECMP"] = r.weighted;
    s.groups["pool"] = make_group(spec);
    s.services.push_back(make_service("web", {"203.0.113.10"}, "pool", r.policy));
    s.endpoint_slices.push_back(make_slice("web", "IPv4", r.endpoints));
    for (auto& [node, p] : plan_all(s)) {
      if (p.speaker.routes.empty()) {
        CHECK(r.mbit.count(node) == 0);
        continue;
      }
      auto& ext = route_attrs_of(p, "203.0.113.10/32").ext_communities;
      auto want = r.mbit.find(node);
      if (want == r.mbit.end()) {
        CHECK(ext.empty());
        continue;
      }
      REQUIRE(ext.size() == 1);
      CHECK(ext[0].type() == 0x00);  // transitive: FRR 8.4 ignores the 0x40 form
      CHECK(ext[0].subtype() == 0x04);
      auto lb = bgp::wire::as_link_bandwidth(ext[0]);
      REQUIRE(lb);
      CHECK(lb->transitive);
      CHECK(lb->asn == 65001);
      CHECK(lb->bytes_per_second * 8 / 1e6 == Approx(want->second));
    }
  }
}

TEST_CASE("weighted ECMP: 4-octet ASNs put AS_TRANS in the community", "[plan][weighted]") {
  auto s = three_nodes();
  s.peers = {make_peer("tor", "198.51.100.1", {{"myASN", 4200000001u}})};
  json spec = remote_pool();
  spec["remote"]["weightedECMP"] = true;
  s.groups["pool"] = make_group(spec);
  s.services.push_back(make_service("web", {"203.0.113.10"}, "pool", "Local"));
  s.endpoint_slices.push_back(make_slice("web", "IPv4", {{"n1"}}));
  auto p = plan_node(s, "n1", facts_for("n1"));
  auto lb = bgp::wire::as_link_bandwidth(route_attrs_of(p, "203.0.113.10/32").ext_communities.at(0));
  REQUIRE(lb);
  CHECK(lb->asn == bgp::wire::as_trans);
}

TEST_CASE("routes share attribute objects", "[plan][routes]") {
  auto s = three_nodes();
  for (int i = 0; i < 20; ++i) s.services.push_back(make_service("s" + std::to_string(i), {"203.0.113." + std::to_string(i)}));
  auto p = plan_node(s, "n1", facts_for("n1"));
  REQUIRE(p.speaker.routes.size() == 20);
  std::set<const bgp::route_attrs*> distinct;
  for (auto& [prefix, attrs] : p.speaker.routes) distinct.insert(attrs.get());
  CHECK(distinct.size() == 1);
}

TEST_CASE("ServiceGroup weightedECMP: parsed on remote groups, refused on local ones", "[plan][weighted][groups]") {
  const std::vector<std::pair<json, std::string>> rows = {
      {{{"remote", {{"v4pool", {{"pool", "203.0.113.0/24"}, {"subnet", "203.0.113.0/24"}}}, {"weightedECMP", true}}}}, ""},
      {{{"remote", {{"v4pool", {{"pool", "203.0.113.0/24"}, {"subnet", "203.0.113.0/24"}}}, {"weightedECMP", "yes"}}}},
       "remote.weightedECMP: must be true or false"},
      {{{"local", {{"v4pool", {{"pool", "192.0.2.0/24"}, {"subnet", "192.0.2.0/24"}}}, {"weightedECMP", true}}}},
       "local.weightedECMP: BGP attributes are only allowed on remote groups"},
  };
  REQUIRE(!rows.empty());
  for (auto& [spec, error] : rows) {
    INFO(spec.dump());
    kube::custom_resource r;
    r.spec = spec;
    auto e = group_entry_from(r);
    CHECK_THAT(e.error, Catch::StartsWith(error));
    CHECK(e.spec.has_value() == error.empty());
    if (e.spec) CHECK(e.spec->weighted_ecmp);
  }
}

TEST_CASE("ready local endpoints: per family, only this Service's slices", "[plan][endpoints]") {
  auto s = three_nodes();
  s.endpoint_slices.push_back(make_slice("web", "IPv4", {{"n1"}, {"n1"}, {"n2"}, {"n1", false}, {"n1", true, true}}));
  s.endpoint_slices.push_back(make_slice("web", "IPv4", {{"n1"}}, "b"));  // a second slice of the same Service
  s.endpoint_slices.push_back(make_slice("web", "IPv6", {{"n1"}}));
  auto fqdn = make_slice("web", "FQDN", {{"n1"}}, "c");
  s.endpoint_slices.push_back(fqdn);
  auto elsewhere = make_slice("web", "IPv4", {{"n1"}}, "d");
  elsewhere.meta.ns = "other";
  s.endpoint_slices.push_back(elsewhere);
  auto unset = make_slice("web", "IPv4", {{"n3"}}, "e");
  unset.endpoints[0].conditions = {};  // unset ready counts as ready
  s.endpoint_slices.push_back(unset);
  CHECK(ready_local_endpoints(s, "default", "web", "n1") == std::array<std::size_t, 2>{3, 1});
  CHECK(ready_local_endpoints(s, "default", "web", "n2") == std::array<std::size_t, 2>{1, 0});
  CHECK(ready_local_endpoints(s, "default", "web", "n3") == std::array<std::size_t, 2>{1, 0});
  CHECK(ready_local_endpoints(s, "other", "web", "n1") == std::array<std::size_t, 2>{1, 0});
  CHECK(ready_local_endpoints(s, "default", "api", "n1") == std::array<std::size_t, 2>{0, 0});
}

TEST_CASE("peers: the other family over a session needs a next hop of that family", "[plan][peers]") {
  auto s = three_nodes();
  s.peers = {make_peer("tor", "198.51.100.1")};  // IPv4 transport, both families
  s.services.push_back(make_service("web", {"203.0.113.10", "2001:db8:5::10"}));
  s.nodes[1].addresses.push_back({"InternalIP", "2001:db8:1::12"});

  SECTION("with an IPv6 address on the node: next hop self of that family") {
    auto p = plan_node(s, "n1", facts_for("n1"));
    REQUIRE(p.speaker.peers.size() == 1);
    auto& c = p.speaker.peers[0];
    CHECK(c.families == std::vector{bgp::wire::ipv4_unicast, bgp::wire::ipv6_unicast});
    REQUIRE(c.next_hop_v6);
    CHECK(c.next_hop_v6->to_string() == "2001:db8:1::11");
    CHECK(!c.next_hop_v4);  // the session's own family: the session's address
    CHECK(route_prefixes(p) == strings{"203.0.113.10/32", "2001:db8:5::10/128"});
    // Other nodes: judged from their Node addresses (only n2 lists an IPv6 one).
    CHECK(announcing_of(p, "web").v6_nodes == strings{"n1", "n2"});
    CHECK(announcing_of(p, "web").v4_nodes == strings{"n1", "n2", "n3"});
  }
  SECTION("without one: IPv6 is not negotiated, announced nor put on the link") {
    node_facts f = facts_for("n1");
    f.addresses.pop_back();
    auto p = plan_node(s, "n1", f);
    REQUIRE(p.speaker.peers.size() == 1);
    CHECK(p.speaker.peers[0].families == std::vector{bgp::wire::ipv4_unicast});
    CHECK(route_prefixes(p) == strings{"203.0.113.10/32"});
    CHECK(dummy_cidrs(p) == strings{"203.0.113.10/32"});
  }
}

// The fast path's promise (plan.hpp additions_only): where it applies one
// Service's plan on top of the node's plan without that Service, the result
// is exactly the full plan with it; and it refuses whatever depends on
// another Service (shared addresses, aggregates) or on the election (local
// addresses). Checked for every Service of a varied cluster on every node,
// with the one-Service plan from service_planner (as the agent runs it),
// itself checked against plan_node over a state with only that Service.
TEST_CASE("fast path: a Service's additions equal the full plan's, or none", "[plan][fast-path]") {
  auto s = three_nodes();
  json weighted = remote_pool();
  weighted["remote"]["weightedECMP"] = true;
  s.groups["weighted"] = make_group(weighted);
  s.groups["agg"] = make_group(remote_pool("203.0.113.128/25", "2001:db8:6::/64", "/25"));
  s.groups["lan"] = make_group({{"local", {{"v4pool", {{"pool", "192.0.2.128/25"}, {"subnet", "192.0.2.0/24"}}}}}});
  s.services = {make_service("web", {"203.0.113.10"}),
                make_service("dual", {"203.0.113.11", "2001:db8:5::11"}),
                make_service("only-ready", {"203.0.113.12"}, "pool", "Local"),
                make_service("shared-a", {"203.0.113.13"}),
                make_service("shared-b", {"203.0.113.13"}),
                make_service("weighed", {"203.0.113.14"}, "weighted", "Local"),
                make_service("agg-1", {"203.0.113.130"}, "agg"),
                make_service("agg-2", {"203.0.113.131"}, "agg"),
                make_service("on-lan", {"192.0.2.140"}, "lan", "Cluster", "local"),
                make_service("no-group", {"203.0.113.15"}, "missing")};
  s.endpoint_slices = {make_slice("only-ready", "IPv4", {{"n1"}, {"n2", false}}),
                       make_slice("weighed", "IPv4", {{"n1"}, {"n1"}, {"n3"}})};
  // A BGPPeer problem: its diagnostic is node-wide, planned once by
  // service_planner and kept under every Service's.
  s.invalid.push_back({"BGPPeer", "herald-system", "broken", "peerASN: missing"});
  REQUIRE(s.services.size() == 10);
  auto prepared = s;  // what the agent keeps after a full plan
  prepared.services.clear();
  prepared.endpoint_slices.clear();

  using picture = std::pair<std::set<std::string>, std::map<std::string, bgp::route_attrs>>;
  auto picture_of = [](const std::vector<planned_address>& addresses, const bgp::route_list& routes) {
    picture out;
    for (auto& a : addresses)
      out.first.insert(a.spec.to_string() + " valid " + std::to_string(a.spec.valid_lifetime) +
                       (a.spec.noprefixroute ? " noprefixroute" : ""));
    for (auto& [prefix, attrs] : routes) out.second[prefix.to_string()] = *attrs;
    return out;
  };
  // Whether prefix p (as "address/length") holds ingress address `ip`.
  auto covers = [](const bgp::wire::ip_prefix& p, const std::string& ip) {
    auto net = netlink::address_spec::parse(p.to_string());
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(ip, ec);
    return net && !ec && a.is_v4() == net->address.is_v4() &&
           netlink::network_of(a, net->prefix_len) == netlink::network_of(net->address, net->prefix_len);
  };
  auto diagnostics_of = [](const node_plan& p) {
    std::vector<std::string> out;
    for (auto& d : p.diagnostics)
      out.push_back(d.event.kind + " " + d.event.ns + "/" + d.event.name + " " + d.event.reason + ": " +
                    d.event.message + (d.emit_event ? " (Event)" : ""));
    return out;
  };
  auto announcing_text = [](const node_plan& p) {
    auto join = [](const strings& names) {
      std::string out;
      for (auto& n : names) out += n + ",";
      return out;
    };
    std::vector<std::string> out;
    for (auto& a : p.announcing)
      out.push_back(a.ns + "/" + a.name + " v4 " + join(a.v4_nodes) + " v6 " + join(a.v6_nodes) + " by " + a.writer);
    return out;
  };
  int applied = 0, refused = 0;
  for (const std::string node : {"n1", "n2", "n3"}) {
    auto full = plan_node(s, node, facts_for(node));
    // In prefix order, no prefix twice (node_plan; the agent's decision log
    // finds an address's route by binary search).
    REQUIRE(full.speaker.routes.size() >= 3);
    CHECK(std::adjacent_find(full.speaker.routes.begin(), full.speaker.routes.end(),
                             [](auto& a, auto& b) { return !(a.first < b.first); }) == full.speaker.routes.end());
    // Services' announcing entries by (namespace, name) (node_plan; the
    // agent keeps them and searches them by binary search).
    REQUIRE(full.announcing.size() == s.services.size());
    CHECK(std::adjacent_find(full.announcing.begin(), full.announcing.end(), [](auto& a, auto& b) {
            return !(std::tie(a.ns, a.name) < std::tie(b.ns, b.name));
          }) == full.announcing.end());
    const auto facts = facts_for(node);
    service_planner quick(prepared, node, facts);
    // Last to first: one planner for all of them, so what a Service leaves
    // behind (no-group's warning, agg-2's aggregate) would show in the next.
    for (std::size_t i = s.services.size(); i-- > 0;) {
      const auto& svc = s.services[i];
      INFO("node " << node << ", Service " << svc.meta.name);
      auto without = s;
      without.services.erase(without.services.begin() + static_cast<std::ptrdiff_t>(i));
      auto before = plan_node(without, node, facts_for(node));
      auto single_state = s;
      single_state.services = {svc};
      single_state.endpoint_slices.clear();
      std::vector<kube::endpoint_slice> own_slices;
      for (const auto& sl : s.endpoint_slices)
        if (sl.service_name() == svc.meta.name) {
          own_slices.push_back(sl);
          single_state.endpoint_slices.push_back(sl);
        }
      auto single = plan_node(single_state, node, facts_for(node));
      const auto& planned = quick.plan(svc, own_slices);
      CHECK(picture_of(planned.dummy_addresses, planned.speaker.routes) ==
            picture_of(single.dummy_addresses, single.speaker.routes));
      CHECK(picture_of(planned.local_addresses, {}) == picture_of(single.local_addresses, {}));
      CHECK(announcing_text(planned) == announcing_text(single));
      CHECK(diagnostics_of(planned) == diagnostics_of(single));
      CHECK(planned.peer_statuses == single.peer_statuses);
      CHECK(planned.speaker.peers == single.speaker.peers);
      CHECK(planned.speaker.router_id == single.speaker.router_id);

      auto on_dummy_link = [&](const netlink::ip_address& a) {
        return std::any_of(before.dummy_addresses.begin(), before.dummy_addresses.end(),
                           [&](auto& d) { return d.spec.address == a; });
      };
      auto announced = [&](const bgp::wire::ip_prefix& p) {
        return std::any_of(before.speaker.routes.begin(), before.speaker.routes.end(),
                           [&](auto& r) { return r.first == p; });
      };
      auto other_service_in = [&](const bgp::wire::ip_prefix& p) {
        for (auto& other : without.services)
          for (auto& ingress : other.ingress)
            if (covers(p, ingress.ip)) return true;
        return false;
      };
      auto add = additions_only(planned, on_dummy_link, announced, other_service_in);
      if (!add) {
        ++refused;
        continue;
      }
      ++applied;
      auto addresses = before.dummy_addresses;
      addresses.insert(addresses.end(), add->addresses.begin(), add->addresses.end());
      auto routes = before.speaker.routes;
      routes.insert(routes.end(), add->routes.begin(), add->routes.end());
      auto got = picture_of(addresses, routes), want = picture_of(full.dummy_addresses, full.speaker.routes);
      CHECK(got.first == want.first);
      CHECK((got.second == want.second));
      CHECK(svc.meta.name.rfind("shared-", 0) != 0);  // the other holder is in the cluster
      CHECK(svc.meta.name.rfind("agg-", 0) != 0);
      CHECK(svc.meta.name != "on-lan");
    }
  }
  // Both answers occur: Services that stand alone are applied on the nodes
  // that serve them; shared, aggregated and local ones are refused.
  CHECK(applied >= 8);
  CHECK(refused >= 12);
}

TEST_CASE("fast path: refused when the address is desired, the prefix announced or shared", "[plan][fast-path]") {
  auto s = three_nodes();
  s.services = {make_service("web", {"203.0.113.10", "2001:db8:5::10"})};
  auto single = plan_node(s, "n1", facts_for("n1"));
  REQUIRE(single.dummy_addresses.size() == 2);
  auto no = [](const bgp::wire::ip_prefix&) { return false; };
  auto v6_only = [](const bgp::wire::ip_prefix& p) { return !p.addr.is_v4(); };
  auto none_on_link = [](const netlink::ip_address&) { return false; };
  const auto first = single.dummy_addresses[0].spec.address;
  auto first_on_link = [&](const netlink::ip_address& a) { return a == first; };

  auto add = additions_only(single, none_on_link, no, no);
  REQUIRE(add);
  node_plan added;
  added.dummy_addresses = add->addresses;
  CHECK(dummy_cidrs(added) == strings{"203.0.113.10/32", "2001:db8:5::10/128"});
  CHECK(add->routes.size() == 2);

  // A Service elsewhere in the cache with an address in a prefix (a change the
  // full plan has not applied yet): its attributes may win there.
  CHECK_FALSE(additions_only(single, none_on_link, no, v6_only));
  CHECK_FALSE(additions_only(single, none_on_link, v6_only, no));  // announced already
  CHECK_FALSE(additions_only(single, first_on_link, no, no));      // on the link for another
  node_plan nothing;
  CHECK_FALSE(additions_only(nothing, none_on_link, no, no));
}

TEST_CASE("lease expiry: replan only when a Lease counted live has lapsed", "[plan][leases]") {
  using std::chrono::seconds;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  // The timer armed at the earliest expiry fires; the renewals noted since
  // moved every expiry on: wait for the earliest of them, plan nothing.
  auto renewed = check_lease_expiry({t0 + seconds(30), t0 + seconds(25), t0 + seconds(38)}, t0);
  CHECK_FALSE(renewed.replan);
  REQUIRE(renewed.next);
  CHECK(*renewed.next == t0 + seconds(25));
  // One of them was not renewed: its node is dead, replan.
  auto lapsed = check_lease_expiry({t0 + seconds(30), t0, t0 + seconds(38)}, t0);
  CHECK(lapsed.replan);
  CHECK(check_lease_expiry({t0 - seconds(1)}, t0).replan);
  // No live Lease: nothing to wait for.
  auto none = check_lease_expiry({}, t0);
  CHECK_FALSE(none.replan);
  CHECK_FALSE(none.next);
}

TEST_CASE("plan delay: at once after a quiet window, else when the window since the last plan ends",
          "[plan][debounce]") {
  using std::chrono::milliseconds;
  const milliseconds window(10);
  CHECK(plan_delay(std::nullopt, window, false, t0) == milliseconds(0));  // no plan yet
  CHECK(plan_delay(t0, window, false, t0 + milliseconds(10)) == milliseconds(0));
  CHECK(plan_delay(t0, window, false, t0 + milliseconds(250)) == milliseconds(0));
  // Within the window: its end, not a whole window after the change.
  CHECK(plan_delay(t0, window, false, t0 + milliseconds(3)) == milliseconds(7));
  CHECK(plan_delay(t0, window, false, t0) == milliseconds(10));
  CHECK(plan_delay(t0, window, false, t0 + std::chrono::microseconds(9'500)) == milliseconds(1));
  // A slow last plan widens the window (the caller passes the longer one).
  CHECK(plan_delay(t0, milliseconds(80), false, t0 + milliseconds(30)) == milliseconds(50));
  // After the fast path: the whole window, quiet or not.
  CHECK(plan_delay(t0, window, true, t0 + milliseconds(500)) == window);
  CHECK(plan_delay(std::nullopt, window, true, t0) == window);
}
