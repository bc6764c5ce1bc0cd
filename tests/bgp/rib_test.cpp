// Adj-RIB-Out diffing and export policy.
#include <catch2/catch.hpp>

#include "bgp/rib.hpp"

using namespace herald::bgp;
using namespace herald::bgp::wire;

namespace {
ip_prefix pfx(const char* s) { return *ip_prefix::parse(s); }
ip_address addr(const char* s) { return *ip_address::parse(s); }
}  // namespace

TEST_CASE("adj_rib_out sends only differences") {
  auto a1 = std::make_shared<const route_attrs>(route_attrs{{0xFDE90064}, {}, {}, {}, 50, 0, {}, {}});
  auto a2 = std::make_shared<const route_attrs>(route_attrs{{0xFDE90065}, {}, {}, {}, 50, 0, {}, {}});
  route_table desired{{pfx("198.51.100.1/32"), a1}, {pfx("198.51.100.2/32"), a1}, {pfx("2001:db8::1/128"), a2}};
  auto lookup = [&](const ip_prefix& p) -> attrs_ref {
    const attrs_ref* a = desired.find(p);
    return a ? *a : nullptr;
  };
  adj_rib_out out;
  prefix_set all{pfx("198.51.100.1/32"), pfx("198.51.100.2/32"), pfx("2001:db8::1/128")};
  auto c = out.update(all, lookup);
  CHECK(c.announce.size() == 2);  // grouped by attribute set
  CHECK(c.withdraw.empty());
  CHECK(out.size() == 3);
  CHECK(out.count(afi::ipv4) == 2);
  {
    // After a session reset the per-family counts start from zero again.
    adj_rib_out again = out;
    again.clear();
    CHECK(again.count(afi::ipv4) == 0);
    CHECK(again.count(afi::ipv6) == 0);
    again.update(all, lookup);
    CHECK(again.count(afi::ipv4) == 2);
    CHECK(again.count(afi::ipv6) == 1);
  }
  // Nothing changed: nothing to send.
  CHECK(out.update(all, lookup).empty());
  // An equal-valued but different object is no change either.
  desired.set(pfx("198.51.100.1/32"), std::make_shared<const route_attrs>(*a1));
  CHECK(out.update(all, lookup).empty());
  // A change and a withdraw.
  desired.set(pfx("198.51.100.2/32"), a2);
  desired.erase(pfx("2001:db8::1/128"));
  c = out.update(all, lookup);
  REQUIRE(c.announce.size() == 1);
  CHECK(c.announce[0].second == std::vector<ip_prefix>{pfx("198.51.100.2/32")});
  CHECK(c.withdraw == std::vector<ip_prefix>{pfx("2001:db8::1/128")});
  CHECK(out.size() == 2);
  // Withdrawing what was never advertised sends nothing.
  CHECK(out.update(prefix_set{pfx("203.0.113.9/32")}, lookup).empty());
  CHECK(out.everything().announce.size() == 2);
}

TEST_CASE("export: eBGP prepends our AS, drops LOCAL_PREF, next hop self") {
  route_attrs r;
  r.med = 50;
  r.local_pref = 200;
  r.as_path_prepend = 2;
  r.communities = {0xFDE90064};
  export_context ctx;
  ctx.local_asn = 65001;
  ctx.ebgp = true;
  ctx.next_hop_v4 = addr("192.0.2.11");
  auto a = export_attributes(r, afi::ipv4, ctx);
  REQUIRE(a);
  CHECK(a->flat_as_path() == std::vector<std::uint32_t>{65001, 65001, 65001});
  CHECK_FALSE(a->local_pref);
  CHECK(a->med == 50u);
  CHECK(a->next_hop == addr("192.0.2.11"));
  CHECK_FALSE(a->reach);
  // No IPv6 next hop known: an IPv6 route cannot go to this peer.
  CHECK_FALSE(export_attributes(r, afi::ipv6, ctx));
}

TEST_CASE("export: iBGP keeps LOCAL_PREF (default 100) and an empty AS_PATH") {
  route_attrs r;
  export_context ctx;
  ctx.local_asn = 65001;
  ctx.ebgp = false;
  ctx.next_hop_v6 = addr("2001:db8::11");
  auto a = export_attributes(r, afi::ipv6, ctx);
  REQUIRE(a);
  CHECK(a->local_pref == 100u);
  CHECK(a->flat_as_path().empty());
  REQUIRE(a->reach);
  CHECK(a->reach->next_hops == std::vector<ip_address>{addr("2001:db8::11")});
  r.local_pref = 300;
  CHECK(export_attributes(r, afi::ipv6, ctx)->local_pref == 300u);
}

TEST_CASE("export: graceful shutdown adds 65535:0 and LOCAL_PREF 0 on iBGP (RFC 8326)") {
  route_attrs r;
  r.local_pref = 300;
  export_context ctx;
  ctx.local_asn = 65001;
  ctx.ebgp = false;
  ctx.graceful_shutdown = true;
  ctx.next_hop_v4 = addr("192.0.2.11");
  auto a = export_attributes(r, afi::ipv4, ctx);
  CHECK(a->communities == std::vector<std::uint32_t>{community::graceful_shutdown});
  CHECK(a->local_pref == 0u);
}

TEST_CASE("export: IPv4 over an IPv6 next hop with extended next hop (RFC 8950)") {
  route_attrs r;
  export_context ctx;
  ctx.local_asn = 65001;
  ctx.next_hop_v6 = addr("2001:db8::11");
  CHECK_FALSE(export_attributes(r, afi::ipv4, ctx));
  ctx.extended_next_hop = true;
  auto a = export_attributes(r, afi::ipv4, ctx);
  REQUIRE(a);
  REQUIRE(a->reach);
  CHECK(a->reach->f == ipv4_unicast);
  CHECK(a->reach->next_hops.front() == addr("2001:db8::11"));
  CHECK_FALSE(a->next_hop);
}

TEST_CASE("route_attrs peer filter") {
  route_attrs r;
  CHECK(r.for_peer(addr("192.0.2.1")));
  r.peers = {addr("192.0.2.1")};
  CHECK(r.for_peer(addr("192.0.2.1")));
  CHECK_FALSE(r.for_peer(addr("192.0.2.2")));
}
