// Unit tests of agent/resources.hpp: BGPPeer and LBNodeAgent validation (every
// error names its field), label selectors, durations and node Leases.
#include <catch2/catch.hpp>

#include "agent/resources.hpp"
#include "result_catch.hpp"

using namespace herald::agent;
using nlohmann::json;

namespace {

herald::kube::custom_resource resource(std::string kind, std::string ns, std::string name, json spec) {
  herald::kube::custom_resource r;
  r.kind = std::move(kind);
  r.api_version = "herald.dev/v1";
  r.meta.ns = std::move(ns);
  r.meta.name = std::move(name);
  r.spec = std::move(spec);
  return r;
}

json minimal_peer() { return {{"peerAddress", "192.0.2.1"}, {"peerASN", 65000}, {"myASN", 65001}}; }

}  // namespace

TEST_CASE("label selectors follow metav1.LabelSelector", "[selector]") {
  struct row {
    json selector;
    herald::kube::string_map labels;
    bool match;
  };
  const std::vector<row> rows = {
      {json::object(), {}, true},
      {{{"matchLabels", {{"rack", "a"}}}}, {{"rack", "a"}}, true},
      {{{"matchLabels", {{"rack", "a"}}}}, {{"rack", "b"}}, false},
      {{{"matchLabels", {{"rack", "a"}}}}, {}, false},
      {{{"matchExpressions", {{{"key", "role"}, {"operator", "In"}, {"values", {"edge", "core"}}}}}}, {{"role", "core"}}, true},
      {{{"matchExpressions", {{{"key", "role"}, {"operator", "In"}, {"values", {"edge"}}}}}}, {}, false},
      {{{"matchExpressions", {{{"key", "role"}, {"operator", "NotIn"}, {"values", {"edge"}}}}}}, {}, true},
      {{{"matchExpressions", {{{"key", "role"}, {"operator", "NotIn"}, {"values", {"edge"}}}}}}, {{"role", "edge"}}, false},
      {{{"matchExpressions", {{{"key", "bgp"}, {"operator", "Exists"}}}}}, {{"bgp", ""}}, true},
      {{{"matchExpressions", {{{"key", "bgp"}, {"operator", "DoesNotExist"}}}}}, {{"bgp", ""}}, false},
      {{{"matchLabels", {{"rack", "a"}}}, {"matchExpressions", {{{"key", "bgp"}, {"operator", "Exists"}}}}},
       {{"rack", "a"}},
       false},
  };
  REQUIRE(!rows.empty());
  for (auto& r : rows) {
    INFO(r.selector.dump());
    auto s = parse_label_selector(r.selector, "spec.nodeSelector");
    REQUIRE(s);
    CHECK(s->matches(r.labels) == r.match);
  }
}

TEST_CASE("label selector errors name the field", "[selector]") {
  const std::vector<std::pair<json, std::string>> rows = {
      {json::array(), "spec.nodeSelector: must be an object"},
      {{{"matchLabels", {{"rack", 1}}}}, "spec.nodeSelector.matchLabels.rack: must be a string"},
      {{{"matchExpressions", {{{"key", "k"}, {"operator", "Near"}}}}}, "spec.nodeSelector.matchExpressions[0].operator"},
      {{{"matchExpressions", {{{"key", "k"}, {"operator", "In"}}}}}, "spec.nodeSelector.matchExpressions[0].values: must not be empty"},
      {{{"matchExpressions", {{{"key", "k"}, {"operator", "Exists"}, {"values", {"x"}}}}}}, "spec.nodeSelector.matchExpressions[0].values: must be empty"},
      {{{"matchExpressions", {{{"operator", "Exists"}}}}}, "spec.nodeSelector.matchExpressions[0].key: is required"},
      {{{"matchLabel", json::object()}}, "spec.nodeSelector.matchLabel: unknown field"},
  };
  REQUIRE(!rows.empty());
  for (auto& [j, want] : rows) {
    INFO(j.dump());
    auto s = parse_label_selector(j, "spec.nodeSelector");
    REQUIRE(!s);
    CHECK_THAT(s.error(), Catch::StartsWith(want));
  }
}

TEST_CASE("durations: Kubernetes duration strings", "[duration]") {
  using std::chrono::milliseconds;
  const std::vector<std::pair<std::string, std::optional<milliseconds>>> rows = {
      {"90s", milliseconds{90'000}}, {"1m30s", milliseconds{90'000}}, {"1h", milliseconds{3'600'000}},
      {"500ms", milliseconds{500}},  {"0", milliseconds{0}},          {"0s", milliseconds{0}},
      {"", std::nullopt},            {"90", std::nullopt},            {"-1s", std::nullopt},
      {"1.5s", std::nullopt},        {"s", std::nullopt},             {"3d", std::nullopt},
  };
  REQUIRE(!rows.empty());
  for (auto& [text, want] : rows) {
    INFO(text);
    CHECK(parse_duration(text) == want);
  }
}

TEST_CASE("BGPPeer: a full spec is read field by field", "[bgppeer]") {
  json spec = {{"peerAddress", "2001:db8::1"},
               {"peerASN", 4200000000u},
               {"myASN", 65001},
               {"peerPort", 1179},
               {"holdTime", "9s"},
               {"keepaliveTime", "3s"},
               {"sendHoldTime", "2m"},
               {"connectRetryTime", "1m"},
               {"password", {{"secretRef", {{"name", "bgp-auth"}}}}},
               {"ttlSecurity", true},
               {"sourceAddress", "2001:db8::10"},
               {"passive", true},
               {"routerID", "192.0.2.77"},
               {"nodeSelector", {{"matchLabels", {{"rack", "a"}}}}},
               {"families", {"ipv6-unicast"}},
               {"gracefulRestart", {{"enabled", false}, {"restartTime", "60s"}}},
               {"bfd", {{"minTx", 100}, {"minRx", 200}, {"multiplier", 5}}}};
  auto p = parse_bgp_peer(resource("BGPPeer", "herald-system", "tor1", spec), "herald-system");
  REQUIRE(p);
  CHECK(p->key() == "herald-system/tor1");
  CHECK(p->config.address.to_string() == "2001:db8::1");
  CHECK(p->config.asn == 4200000000u);
  CHECK(p->config.local_asn == 65001);
  CHECK(p->config.port == 1179);
  CHECK(p->config.hold_time == 9);
  CHECK(p->config.keepalive == 3);
  CHECK(p->config.send_hold_time == 120);
  CHECK(p->config.connect_retry == 60);
  REQUIRE(p->password);
  CHECK(p->password->name == "bgp-auth");
  CHECK(p->password->key == "password");
  CHECK(p->config.ttl_security);
  CHECK(p->config.source_address->to_string() == "2001:db8::10");
  CHECK(p->config.passive);
  CHECK(p->router_id == 0xC000024Du);
  CHECK(p->node_selector.match_labels.at("rack") == "a");
  CHECK(p->config.families == std::vector{herald::bgp::wire::ipv6_unicast});
  CHECK(!p->graceful_restart);
  CHECK(p->restart_time == 60);
  REQUIRE(p->config.bfd);
  CHECK(p->config.bfd->min_tx_ms == 100);
  CHECK(p->config.bfd->min_rx_ms == 200);
  CHECK(p->config.bfd->multiplier == 5);
}

TEST_CASE("BGPPeer: defaults of a minimal spec", "[bgppeer]") {
  auto p = parse_bgp_peer(resource("BGPPeer", "herald-system", "tor", minimal_peer()), "herald-system");
  REQUIRE(p);
  CHECK(p->config.port == 179);
  CHECK(p->config.hold_time == 90);
  CHECK(p->config.keepalive == 30);
  CHECK(p->config.send_hold_time == 480);
  CHECK(p->config.connect_retry == 30);
  CHECK(!p->password);
  CHECK(!p->config.bfd);
  CHECK(p->config.ebgp_multihop == 1);
  CHECK(p->node_selector.empty());
  CHECK(p->graceful_restart);
  CHECK(p->config.families == std::vector{herald::bgp::wire::ipv4_unicast, herald::bgp::wire::ipv6_unicast});
}

TEST_CASE("BGPPeer: errors name the field", "[bgppeer]") {
  struct row {
    std::string ns;
    json patch;  // merged into the minimal spec; null values remove
    std::string error;
  };
  const std::vector<row> rows = {
      {"herald-system", {{"peerAddress", nullptr}}, "spec.peerAddress: is required"},
      {"herald-system", {{"peerAddress", "192.0.2.300"}}, "spec.peerAddress: \"192.0.2.300\" is not"},
      {"herald-system", {{"peerASN", 0}}, "spec.peerASN: must be an integer from 1 to 4294967295"},
      {"herald-system", {{"peerASN", 4294967296LL}}, "spec.peerASN: must be an integer from 1 to 4294967295"},
      {"herald-system", {{"myASN", "65000"}}, "spec.myASN: must be an integer"},
      {"herald-system", {{"peerPort", 0}}, "spec.peerPort: must be an integer from 1 to 65535"},
      {"herald-system", {{"holdTime", "2s"}}, "spec.holdTime: must be 0s or at least 3s"},
      {"herald-system", {{"holdTime", "ninety"}}, "spec.holdTime: \"ninety\" is not a duration"},
      {"herald-system", {{"holdTime", "9s"}, {"keepaliveTime", "10s"}}, "spec.keepaliveTime: must not exceed holdTime"},
      {"herald-system", {{"sendHoldTime", "2s"}}, "spec.sendHoldTime: must be 0s or at least 3s (RFC 9687)"},
      {"herald-system", {{"sendHoldTime", "3500ms"}}, "spec.sendHoldTime: must be whole seconds"},
      {"herald-system", {{"ebgpMultihop", 2}, {"ttlSecurity", true}}, "spec.ebgpMultihop: and ttlSecurity are mutually exclusive"},
      {"herald-system", {{"ebgpMultihop", 0}}, "spec.ebgpMultihop: must be an integer from 1 to 255"},
      {"herald-system", {{"sourceAddress", "2001:db8::1"}}, "spec.sourceAddress: must be of the same family"},
      {"herald-system", {{"routerID", "2001:db8::1"}}, "spec.routerID: must be a non-zero IPv4"},
      {"herald-system", {{"families", {"l2vpn-evpn"}}}, "spec.families[0]: must be ipv4-unicast or ipv6-unicast"},
      {"herald-system", {{"families", json::array()}}, "spec.families: must not be empty"},
      {"herald-system", {{"password", {{"secret", "x"}}}}, "spec.password.secretRef: is required"},
      {"tenant-a", {{"password", {{"secretRef", {{"name", "s"}}}}}}, "metadata.namespace: BGPPeers are only read from Herald's namespace \"herald-system\"; create it there"},
      {"tenant-a", json::object(), "metadata.namespace: BGPPeers are only read from Herald's namespace"},
      {"herald-system", {{"bfd", {{"multiplier", 0}}}}, "spec.bfd.multiplier: must be an integer from 1 to 255"},
      {"herald-system", {{"bfd", {{"minTx", 5}}}}, "spec.bfd.minTx: must be an integer from 10 to 60000"},
      {"herald-system", {{"gracefulRestart", {{"restartTime", "2h"}}}}, "spec.gracefulRestart.restartTime"},
      {"herald-system", {{"nodeSelector", {{"matchLabels", {{"a", 1}}}}}}, "spec.nodeSelector.matchLabels.a: must be a string"},
      {"herald-system", {{"peerAdress", "192.0.2.1"}}, "spec.peerAdress: unknown field"},
  };
  REQUIRE(!rows.empty());
  for (auto& r : rows) {
    json spec = minimal_peer();
    spec.merge_patch(r.patch);
    INFO(spec.dump());
    auto p = parse_bgp_peer(resource("BGPPeer", r.ns, "tor", spec), "herald-system");
    REQUIRE(!p);
    CHECK_THAT(p.error(), Catch::StartsWith(r.error));
  }
  // Not an object at all.
  auto p = parse_bgp_peer(resource("BGPPeer", "herald-system", "tor", json::array()), "herald-system");
  REQUIRE(!p);
  CHECK(p.error() == "spec: must be an object");
}

TEST_CASE("LBNodeAgent: defaults and fields", "[lbnodeagent]") {
  auto d = parse_lb_node_agent(resource("LBNodeAgent", "herald-system", "default", json::object()));
  REQUIRE(d);
  CHECK(d->name == "herald-system/default");
  CHECK(d->local_interface == "default");
  CHECK(d->dummy_interface == "kube-lb0");
  CHECK(d->garp.enabled);
  CHECK(d->garp.count == 3);
  CHECK(d->noprefixroute);
  CHECK(d->valid_lifetime == 0);

  json spec = {{"localInterface", "^(eth|ens)[0-9]+$"},
               {"dummyInterface", "lb-dummy"},
               {"garp", {{"enabled", false}, {"count", 5}, {"interval", "250ms"}}},
               {"validLifetime", 120},
               {"preferredLifetime", 60},
               {"noPrefixRoute", false},
               {"nodeSelector", {{"matchLabels", {{"edge", "true"}}}}}};
  auto s = parse_lb_node_agent(resource("LBNodeAgent", "herald-system", "edge", spec));
  REQUIRE(s);
  CHECK(s->local_interface == "^(eth|ens)[0-9]+$");
  CHECK(s->dummy_interface == "lb-dummy");
  CHECK(!s->garp.enabled);
  CHECK(s->garp.count == 5);
  CHECK(s->garp.interval == std::chrono::milliseconds{250});
  CHECK(s->valid_lifetime == 120);
  CHECK(s->preferred_lifetime == 60);
  CHECK(!s->noprefixroute);
  CHECK(s->node_selector.match_labels.at("edge") == "true");
}

TEST_CASE("LBNodeAgent: errors name the field", "[lbnodeagent]") {
  const std::vector<std::pair<json, std::string>> rows = {
      {{{"localInterface", "eth(0"}}, "spec.localInterface: \"eth(0\" is not a regular expression"},
      {{{"localInterface", ""}}, "spec.localInterface: must be"},
      {{{"dummyInterface", "a-name-far-too-long"}}, "spec.dummyInterface: \"a-name-far-too-long\" is not a valid link name"},
      {{{"dummyInterface", "kube/lb"}}, "spec.dummyInterface"},
      {{{"garp", {{"count", 11}}}}, "spec.garp.count: must be an integer from 1 to 10"},
      {{{"garp", {{"interval", "soon"}}}}, "spec.garp.interval"},
      {{{"validLifetime", 10}, {"preferredLifetime", 20}}, "spec.preferredLifetime: must not exceed validLifetime"},
      {{{"validLifetime", -1}}, "spec.validLifetime: must be an integer"},
      {{{"noPrefixRoute", "yes"}}, "spec.noPrefixRoute: must be true or false"},
      {{{"garp", true}}, "spec.garp: must be an object"},
  };
  REQUIRE(!rows.empty());
  for (auto& [spec, want] : rows) {
    INFO(spec.dump());
    auto s = parse_lb_node_agent(resource("LBNodeAgent", "herald-system", "x", spec));
    REQUIRE(!s);
    CHECK_THAT(s.error(), Catch::StartsWith(want));
  }
}

TEST_CASE("node Leases carry the node's subnets", "[lease]") {
  herald::kube::lease l;
  l.meta.name = node_lease_name("worker-1");
  CHECK(l.meta.name == "herald-node-worker-1");
  l.meta.annotations[subnets_annotation] = "192.0.2.0/24, 2001:db8:1::/64";
  auto parsed = parse_node_lease(l);
  REQUIRE(parsed);
  CHECK(parsed->node == "worker-1");
  REQUIRE(parsed->subnets.size() == 2);
  CHECK(format_subnets(parsed->subnets) == "192.0.2.0/24,2001:db8:1::/64");

  // Host bits in the annotation are cleared: the subnet, not the address.
  l.meta.annotations[subnets_annotation] = "192.0.2.10/24";
  CHECK(format_subnets(parse_node_lease(l)->subnets) == "192.0.2.0/24");

  l.meta.annotations[subnets_annotation] = "192.0.2.0";
  auto bad = parse_node_lease(l);
  REQUIRE(!bad);
  CHECK_THAT(bad.error(), Catch::Contains("herald.dev/subnets") && Catch::Contains("is not a CIDR"));

  l.meta.name = "kube-node-lease";
  REQUIRE(!parse_node_lease(l));
}
