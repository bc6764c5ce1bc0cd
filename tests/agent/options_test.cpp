// herald-agent's flags (agent/options.hpp): defaults from the environment,
// every flag, and each bad value refused with a message naming the flag;
// and the agent's /metrics text (agent/metrics.hpp): the families the
// DaemonSet's scrape config and docs/agent.md name, accepted by promtool.
#include <catch2/catch.hpp>

#include <map>

#include "agent/metrics.hpp"
#include "agent/options.hpp"
#include "allocator/promtool.hpp"

using namespace herald::agent;

namespace {

env_lookup env_of(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST_CASE("agent options: defaults, with NODE_NAME and POD_NAMESPACE from the downward API") {
  auto o = parse_options({}, env_of({{"NODE_NAME", "worker-1"}, {"POD_NAMESPACE", "lb"}}));
  REQUIRE(o.has_value());
  CHECK(o->what == agent_options::action::run);
  CHECK(o->node_name == "worker-1");
  CHECK(o->ns == "lb");
  CHECK(o->http_listen == "0.0.0.0:7473");
  CHECK(o->grpc_listen == "127.0.0.1:50051");
  CHECK_FALSE(o->bgp_listen);
  CHECK(o->bgp_port == 179);
  CHECK(o->drain == std::chrono::seconds(10));
  CHECK(o->on_sigterm == agent_options::shutdown_mode::restart);
  CHECK(o->log_level == "info");
  CHECK(o->kubeconfig.empty());

  auto no_ns = parse_options({}, env_of({{"NODE_NAME", "w"}}));
  REQUIRE(no_ns.has_value());
  CHECK(no_ns->ns == "herald-system");
}

TEST_CASE("agent options: every flag, both --flag value and --flag=value") {
  auto o = parse_options({"--kubeconfig", "/tmp/kc", "--node-name=n1", "--namespace", "x", "--http", "[::]:9000",
                          "--grpc", "off", "--bgp-listen", "2001:db8::1", "--bgp-port=1179", "--drain", "0",
                          "--shutdown=withdraw", "--log-level", "debug"},
                         env_of({{"NODE_NAME", "ignored"}}));
  REQUIRE(o.has_value());
  CHECK(o->kubeconfig == "/tmp/kc");
  CHECK(o->node_name == "n1");  // the flag beats NODE_NAME
  CHECK(o->ns == "x");
  CHECK(o->http_listen == "[::]:9000");
  CHECK(o->grpc_listen == "off");
  CHECK(o->bgp_listen == "2001:db8::1");
  CHECK(o->bgp_port == 1179);
  CHECK(o->drain == std::chrono::seconds(0));
  CHECK(o->on_sigterm == agent_options::shutdown_mode::withdraw);
  CHECK(o->log_level == "debug");
}

TEST_CASE("agent options: --help and --version need nothing else") {
  auto h = parse_options({"--help"}, env_of({}));
  REQUIRE(h.has_value());
  CHECK(h->what == agent_options::action::help);
  auto v = parse_options({"--version"}, env_of({}));
  REQUIRE(v.has_value());
  CHECK(v->what == agent_options::action::version);
  CHECK(usage_text().find("--node-name") != std::string::npos);
}

TEST_CASE("agent options: bad input names the flag") {
  auto node = env_of({{"NODE_NAME", "n"}});
  struct bad {
    std::vector<std::string> args;
    const char* says;
  };
  const std::vector<bad> cases = {
      {{"--bgp-port", "70000"}, "--bgp-port"},
      {{"--bgp-port", "0"}, "--bgp-port"},
      {{"--http", "7473"}, "--http"},
      {{"--http", "::1:80"}, "--http"},
      {{"--grpc", "localhost:50051"}, "--grpc"},
      {{"--bgp-listen", "eth0"}, "--bgp-listen"},
      {{"--drain", "-1"}, "--drain"},
      {{"--drain", "ten"}, "--drain"},
      {{"--shutdown", "graceful"}, "--shutdown"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--node-name"}, "needs a value"},
      {{"--frobnicate"}, "unknown argument"},
  };
  REQUIRE_FALSE(cases.empty());
  for (const auto& c : cases) {
    auto r = parse_options(c.args, node);
    INFO(c.args[0]);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error(), Catch::Contains(c.says));
  }
  auto missing = parse_options({}, env_of({}));
  REQUIRE_FALSE(missing.has_value());
  CHECK_THAT(missing.error(), Catch::Contains("NODE_NAME"));
}

TEST_CASE("agent metrics: the documented families, and promtool accepts them") {
  agent_figures f;
  herald::bgp::peer_status up;
  up.address = "192.0.2.1";
  up.asn = 65000;
  up.state = herald::bgp::session_state::established;
  up.advertised_v4 = 3;
  up.messages_out[2] = 7;
  herald::bgp::peer_status down = up;
  down.address = "2001:db8::1";
  down.state = herald::bgp::session_state::active;
  f.peers = {up, down};
  f.routes_in_table = 3;
  f.netlink.netlink_operations = 5;
  f.netlink.netlink_errors = 1;
  f.informers = {{"services", true, 2, 10, 0}, {"bgppeers", false, 0, 0, 0}};
  auto h = make_reconcile_histogram();
  h.observe(0.002);
  f.reconcile_seconds = &h;
  f.ready = true;
  f.kube_connections_opened = 11;
  auto text = render_agent_metrics(f);
  CHECK_THAT(text, Catch::Contains("herald_agent_bgp_session_up{peer=\"192.0.2.1\",peer_asn=\"65000\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("herald_agent_bgp_session_up{peer=\"2001:db8::1\",peer_asn=\"65000\"} 0\n"));
  CHECK_THAT(text, Catch::Contains(
                       "herald_agent_bgp_prefixes_announced{peer=\"192.0.2.1\",family=\"ipv4-unicast\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("herald_agent_bgp_updates_sent_total{peer=\"192.0.2.1\"} 7\n"));
  CHECK_THAT(text, Catch::Contains("herald_agent_netlink_operations_total 5\n"));
  CHECK_THAT(text, Catch::Contains("herald_agent_netlink_errors_total 1\n"));
  CHECK_THAT(text, Catch::Contains("herald_agent_reconcile_duration_seconds_count 1\n"));
  CHECK_THAT(text, Catch::Contains("herald_agent_kube_errors_total{resource=\"services\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("herald_agent_kube_informer_synced{resource=\"bgppeers\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("herald_agent_ready 1\n"));
  CHECK_THAT(text, Catch::Contains("herald_agent_kube_connections_opened_total 11\n"));
  // Only with --bgp-listen: 1 open, 0 could not bind.
  CHECK_THAT(text, !Catch::Contains("herald_agent_bgp_listener_up"));
  herald::test::promtool_check(text);
  for (bool open : {true, false}) {
    f.bgp_listener_up = open;
    auto with_listener = render_agent_metrics(f);
    CHECK_THAT(with_listener, Catch::Contains(std::string("herald_agent_bgp_listener_up ") + (open ? "1" : "0") + "\n"));
    herald::test::promtool_check(with_listener);
  }
  // BFD: only for peers with bfd, and only for the listeners that are open.
  CHECK_THAT(text, !Catch::Contains("herald_agent_bfd_"));
  f.peers[0].bfd.emplace();
  f.peers[0].bfd->available = true;
  f.peers[0].bfd->state = herald::bfd::bfd_state::up;
  f.peers[0].bfd->counters.went_down = 2;
  f.bfd_single_hop.emplace();
  f.bfd_single_hop->received = 40;
  f.bfd_single_hop->bad_ttl = 3;
  f.bfd_single_hop->malformed.count(herald::bfd::decode_error::bad_version);
  auto with_bfd = render_agent_metrics(f);
  CHECK_THAT(with_bfd, Catch::Contains("herald_agent_bfd_session_up{peer=\"192.0.2.1\"} 1\n"));
  CHECK_THAT(with_bfd, !Catch::Contains("herald_agent_bfd_session_up{peer=\"2001:db8::1\"}"));
  CHECK_THAT(with_bfd, Catch::Contains("herald_agent_bfd_session_down_total{peer=\"192.0.2.1\"} 2\n"));
  CHECK_THAT(with_bfd, Catch::Contains("herald_agent_bfd_packets_received_total{listener=\"single_hop\"} 40\n"));
  CHECK_THAT(with_bfd, Catch::Contains(
                           "herald_agent_bfd_packets_dropped_total{listener=\"single_hop\",reason=\"bad_ttl\"} 3\n"));
  CHECK_THAT(with_bfd, Catch::Contains(
                           "herald_agent_bfd_packets_dropped_total{listener=\"single_hop\",reason=\"bad_version\"} 1\n"));
  CHECK_THAT(with_bfd, Catch::Contains(
                           "herald_agent_bfd_packets_dropped_total{listener=\"single_hop\",reason=\"no_session\"} 0\n"));
  CHECK_THAT(with_bfd, !Catch::Contains("listener=\"multihop\""));
  herald::test::promtool_check(with_bfd);
  // The port could not be opened: the session reads 0, whatever its state says.
  f.peers[0].bfd->available = false;
  f.bfd_multihop.emplace();
  auto unavailable = render_agent_metrics(f);
  CHECK_THAT(unavailable, Catch::Contains("herald_agent_bfd_session_up{peer=\"192.0.2.1\"} 0\n"));
  CHECK_THAT(unavailable, Catch::Contains("herald_agent_bfd_packets_received_total{listener=\"multihop\"} 0\n"));
  herald::test::promtool_check(unavailable);
}
