// The standalone configuration file: defaults, and errors that name the
// file, the field and the problem.
#include <catch2/catch.hpp>

#include "bgp/config_json.hpp"
#include "result_catch.hpp"

using namespace herald::bgp;
using namespace herald::bgp::wire;

namespace {
std::string error_of(const std::string& text) {
  auto r = parse_speaker_config(text, "s.json");
  REQUIRE_FALSE(r);
  return r.error();
}
}  // namespace

TEST_CASE("a full configuration parses") {
  auto r = parse_speaker_config(R"({
    "router_id": "192.0.2.11", "local_asn": 4200000001, "hostname": "node-1",
    "listen": {"address": "::", "port": 1179},
    "graceful_restart": {"enabled": true, "restart_time": 90},
    "graceful_shutdown": {"drain_seconds": 5},
    "peers": [{"address": "192.0.2.1", "asn": 65000, "hold_time": 3, "send_hold_time": 60, "password": "pw", "passive": true,
               "families": ["ipv4-unicast", "ipv6-unicast"], "next_hop_v6": "2001:db8::11", "ttl_security": true}],
    "routes": [{"prefix": "198.51.100.10/32", "communities": ["65001:100", "NO_EXPORT"],
                "large_communities": ["65001:1:2"], "extended_communities": ["link-bandwidth:65001:125000"],
                "local_pref": 200, "med": 50, "peers": ["192.0.2.1"]},
               {"prefix": "2001:db8:1::10/128"}]
  })", "s.json");
  REQUIRE(r);
  auto& c = *r;
  CHECK(c.router_id == 0xC000020Bu);
  CHECK(c.local_asn == 4200000001u);
  CHECK(c.listen_port == 1179);
  CHECK(c.restart_time == 90);
  CHECK(c.drain == std::chrono::seconds(5));
  REQUIRE(c.peers.size() == 1);
  auto& p = c.peers[0];
  CHECK(p.local_asn == 4200000001u);
  CHECK(p.hold_time == 3);
  CHECK(p.keepalive == 1);
  CHECK(p.send_hold_time == 60);
  CHECK(p.passive);
  CHECK(p.families == std::vector<family>{ipv4_unicast, ipv6_unicast});
  REQUIRE(c.routes.size() == 2);
  REQUIRE(c.routes[0].first == *ip_prefix::parse("198.51.100.10/32"));
  auto& a = *c.routes[0].second;
  CHECK(a.communities == std::vector<std::uint32_t>{0xFDE90064, community::no_export});
  REQUIRE(a.ext_communities.size() == 1);
  CHECK(as_link_bandwidth(a.ext_communities[0])->bytes_per_second == 125000.0f);
  CHECK(a.local_pref == 200u);
}

TEST_CASE("bad configuration names the file, the field and the problem") {
  CHECK(error_of("{") == "s.json: not valid JSON");
  CHECK(error_of(R"({"local_asn": 1, "peers": []})") == "s.json: router_id: is required");
  CHECK(error_of(R"({"router_id": "0.0.0.0", "local_asn": 1, "peers": []})") ==
        "s.json: router_id: must be a non-zero IPv4 address");
  std::string base = R"("router_id": "192.0.2.11", "local_asn": 65001, )";
  CHECK(error_of("{" + base + R"("peers": [{"address": "192.0.2.1", "asn": 0}]})") ==
        "s.json: peers[0].asn: must be an integer from 1 to 4294967295");
  CHECK(error_of("{" + base + R"("peers": [{"address": "192.0.2.1", "asn": 1, "hold_time": 2}]})") ==
        "s.json: peers[0].hold_time: must be 0 or at least 3 (RFC 4271 §4.2)");
  CHECK(error_of("{" + base + R"("peers": [{"address": "192.0.2.1", "asn": 1, "send_hold_time": 2}]})") ==
        "s.json: peers[0].send_hold_time: must be 0 (off) or at least 3");
  CHECK(error_of("{" + base + R"("peers": [{"address": "192.0.2.300", "asn": 1}]})") ==
        "s.json: peers[0].address: \"192.0.2.300\" is not an IPv4 or IPv6 address");
  CHECK(error_of("{" + base + R"("peers": [{"address": "192.0.2.1", "asn": 1, "colour": 1}]})") ==
        "s.json: peers[0].colour: unknown field");
  CHECK(error_of("{" + base + R"("peers": [], "routes": [{"prefix": "198.51.100.1/24"}]})") ==
        "s.json: routes[0].prefix: \"198.51.100.1/24\" is not a prefix (address/length with no host bits set)");
  CHECK(error_of("{" + base + R"("peers": [], "routes": [{"prefix": "198.51.100.1/32", "communities": ["1:2:3"]}]})") ==
        "s.json: routes[0].communities: \"1:2:3\" is not ASN:VALUE (0-65535 each) or a well-known name");
  CHECK(error_of("{" + base + R"("peers": [{"address": "192.0.2.1", "asn": 1}, {"address": "192.0.2.1", "asn": 2}]})") ==
        "s.json: peers[1].address: 192.0.2.1 is configured twice");
  CHECK(error_of("{" + base + R"("peers": [], "routes": [{"prefix": "198.51.100.1/32", "extended_communities": ["rt:1:2"]}]})") ==
        "s.json: routes[0].extended_communities: \"rt:1:2\" is not link-bandwidth[-transitive]:ASN:BYTES_PER_SECOND");
  auto missing = load_speaker_config("/nonexistent/speaker.json");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().rfind("/nonexistent/speaker.json: cannot read", 0) == 0);
}

TEST_CASE("count expands to consecutive prefixes") {
  auto r = parse_speaker_config(R"({"router_id": "192.0.2.11", "local_asn": 65001, "peers": [],
    "routes": [{"prefix": "2001:db8::fffe/128", "count": 3}, {"prefix": "198.51.100.0/24", "count": 2}]})", "s.json");
  REQUIRE(r);
  std::vector<std::string> got;
  for (auto& [p, a] : r->routes) got.push_back(p.to_string());
  CHECK(got == std::vector<std::string>{"2001:db8::fffe/128", "2001:db8::ffff/128", "2001:db8::1:0/128",
                                        "198.51.100.0/24", "198.51.101.0/24"});
  CHECK(r->routes[0].second == r->routes[2].second);  // one shared attribute object per entry
  CHECK(error_of(R"({"router_id": "192.0.2.11", "local_asn": 65001, "peers": [],
    "routes": [{"prefix": "255.255.255.255/32", "count": 2}]})") == "s.json: routes[0].count: runs past the end of the address space");
}

TEST_CASE("bfd: {} means 300 ms x 3; timers in milliseconds; absent means no BFD") {
  auto r = parse_speaker_config(R"({"router_id": "192.0.2.11", "local_asn": 65001, "peers": [
    {"address": "192.0.2.1", "asn": 65000, "bfd": {}},
    {"address": "192.0.2.2", "asn": 65000, "bfd": {"min_tx": 100, "min_rx": 50, "multiplier": 5}},
    {"address": "192.0.2.3", "asn": 65000},
    {"address": "203.0.113.1", "asn": 65002, "ebgp_multihop": 4, "bfd": {}}]})", "s.json");
  REQUIRE(r);
  REQUIRE(r->peers.size() == 4);
  REQUIRE(r->peers[0].bfd);
  CHECK(*r->peers[0].bfd == peer_bfd{.min_tx_ms = 300, .min_rx_ms = 300, .multiplier = 3});
  CHECK_FALSE(r->peers[0].bfd_multihop());
  REQUIRE(r->peers[1].bfd);
  CHECK(*r->peers[1].bfd == peer_bfd{.min_tx_ms = 100, .min_rx_ms = 50, .multiplier = 5});
  CHECK_FALSE(r->peers[2].bfd);
  CHECK(r->peers[3].bfd_multihop());  // RFC 5883 for an eBGP peer more than one hop away
  std::string base = R"({"router_id": "192.0.2.11", "local_asn": 65001, "peers": [{"address": "192.0.2.1", "asn": 1, )";
  CHECK(error_of(base + R"("bfd": true}]})") ==
        R"(s.json: peers[0].bfd: must be an object: {"min_tx": MS, "min_rx": MS, "multiplier": N})");
  CHECK(error_of(base + R"("bfd": {"min_tx": 5}}]})") == "s.json: peers[0].bfd.min_tx: must be an integer from 10 to 60000");
  CHECK(error_of(base + R"("bfd": {"multiplier": 0}}]})") == "s.json: peers[0].bfd.multiplier: must be an integer from 1 to 255");
  CHECK(error_of(base + R"("bfd": {"minTx": 100}}]})") == "s.json: peers[0].bfd.minTx: unknown field");
}

TEST_CASE("a peer's timers and limits default as docs/standalone.md says") {
  auto r = parse_speaker_config(
      R"({"router_id": "192.0.2.11", "local_asn": 65001, "peers": [{"address": "192.0.2.1", "asn": 65000}]})", "s.json");
  REQUIRE(r);
  const auto& p = r->peers.at(0);
  CHECK(p.hold_time == 90);
  CHECK(p.keepalive == 30);
  CHECK(p.send_hold_time == 480);  // RFC 9687's 8 minutes
  CHECK(p.connect_retry == 5);
  CHECK(p.max_prefixes == 10000);
}
