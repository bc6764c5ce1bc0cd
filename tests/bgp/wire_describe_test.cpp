// Text forms used by logs and herald-bgp-decode.
#include <catch2/catch.hpp>

#include "bgp/wire/describe.hpp"
#include "wire_test_util.hpp"

using namespace herald::bgp::wire;

TEST_CASE("describe() names what an operator compares with tshark and gobgp") {
  update_message u;
  u.attrs.origin = origin_type::igp;
  u.attrs.path = as_path{{as_segment::as_sequence, {65001}}};
  u.attrs.next_hop = ip_address::parse("192.0.2.1");
  u.attrs.communities = {community::graceful_shutdown, 0xFDE90064};
  u.attrs.ext_communities = {make_link_bandwidth({65001, 1000.0f, false})};
  u.nlri = {*ip_prefix::parse("198.51.100.10/32")};
  auto text = describe(message{u});
  CHECK_THAT(text, Catch::Contains("next-hop 192.0.2.1"));
  CHECK_THAT(text, Catch::Contains("communities GRACEFUL_SHUTDOWN 65001:100"));
  CHECK_THAT(text, Catch::Contains("link-bandwidth 65001:1000 B/s"));
  CHECK_THAT(text, Catch::Contains("nlri (1): 198.51.100.10/32"));
  CHECK(describe(message{update_message{}}) == "UPDATE End-of-RIB ipv4-unicast");
  CHECK(describe(message{keepalive_message{}}) == "KEEPALIVE");
  CHECK(describe(message{route_refresh_message{ipv6_unicast, route_refresh_message::begin}}) ==
        "ROUTE-REFRESH ipv6-unicast BoRR");
  open_message o;
  o.my_as = 65001;
  o.hold_time = 90;
  o.bgp_id = 0xC0000201;
  o.capabilities = {cap::fqdn{"node-1", ""}};
  CHECK(describe(message{o}) == "OPEN version 4, AS 65001, hold time 90 s, BGP ID 192.0.2.1\n  capability fqdn node-1");
}
