// Unit tests of the gRPC API's pure parts (proto/view.hpp, proto/convert.hpp):
// prefix lookups, the Peer / Global / Destination messages the `gobgp` CLI
// reads (every sub-message it dereferences present, shared/reference/
// gobgp-cli-api.md §5), and AddPath paths as the CLI builds them.
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "proto/convert.hpp"
#include "proto/server.hpp"
#include "result_catch.hpp"

using namespace herald::proto;
using namespace herald::bgp::wire;
namespace bgp = herald::bgp;

namespace {

ip_prefix pfx(std::string_view s) {
  auto p = ip_prefix::parse(s);
  REQUIRE(p);
  return *p;
}

std::map<ip_prefix, int> sample_table() {
  std::map<ip_prefix, int> t;
  for (auto s : {"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "192.0.2.0/24", "2001:db8::/32",
                 "2001:db8:1::/48"})
    t[pfx(s)] = 0;
  return t;
}

std::vector<std::string> texts(const std::vector<ip_prefix>& ps) {
  std::vector<std::string> out;
  for (auto& p : ps) out.push_back(p.to_string());
  return out;
}

std::vector<std::string> selected(std::string_view text, int type, family f = ipv4_unicast) {
  auto q = parse_prefix_query(text, type, f);
  REQUIRE(q);
  return texts(select_prefixes(sample_table(), f, {*q}));
}

template <class M>
M unpack(const google::protobuf::Any& a) {
  M m;
  REQUIRE(a.UnpackTo(&m));
  return m;
}

// The attribute types of a path, in order, by their message names.
std::vector<std::string> attribute_names(const apipb::Path& p) {
  std::vector<std::string> out;
  for (auto& a : p.pattrs()) out.push_back(a.type_url().substr(a.type_url().rfind('/') + 1));
  return out;
}

}  // namespace

TEST_CASE("ListPath lookups follow gobgpd: exact, longest match, longer, shorter") {
  CHECK(selected("10.1.2.0/24", 0) == std::vector<std::string>{"10.1.2.0/24"});
  CHECK(selected("10.1.2.9", 0) == std::vector<std::string>{"10.1.2.0/24"});  // bare address: longest match
  CHECK(selected("10.1.2.3", 0) == std::vector<std::string>{"10.1.2.3/32"});
  CHECK(selected("10.9.0.0/16", 0).empty());
  CHECK(selected("10.200.0.1", 0) == std::vector<std::string>{"10.0.0.0/8"});
  CHECK(selected("10.1.0.0/16", 1) == std::vector<std::string>{"10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32"});
  CHECK(selected("10.1.2.0/24", 2) == std::vector<std::string>{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"});
  CHECK(selected("2001:db8::/32", 1, ipv6_unicast) == std::vector<std::string>{"2001:db8::/32", "2001:db8:1::/48"});
  // No query: the whole family, sorted.
  auto all = texts(select_prefixes(sample_table(), ipv4_unicast, {}));
  CHECK(all.size() == 5);
  CHECK(all.front() == "10.0.0.0/8");
  CHECK(all.back() == "192.0.2.0/24");
}

TEST_CASE("ListPath lookups refuse what they cannot parse") {
  CHECK(!parse_prefix_query("10.1.2.3/8", 0, ipv4_unicast));  // host bits set
  CHECK(!parse_prefix_query("nonsense", 0, ipv4_unicast));
  CHECK(!parse_prefix_query("2001:db8::/32", 0, ipv4_unicast));  // wrong family
  CHECK(!parse_prefix_query("10.0.0.0/8", 7, ipv4_unicast));
}

TEST_CASE("contains compares leading bits within one family") {
  CHECK(contains(pfx("10.0.0.0/8"), pfx("10.1.2.3/32")));
  CHECK(contains(pfx("0.0.0.0/0"), pfx("192.0.2.0/24")));
  CHECK(!contains(pfx("10.1.0.0/16"), pfx("10.0.0.0/8")));
  CHECK(!contains(pfx("10.0.0.0/8"), pfx("11.0.0.0/8")));
  CHECK(!contains(pfx("0.0.0.0/0"), pfx("2001:db8::/32")));
}

TEST_CASE("Global: listen port only with listen addresses, as the CLI prints it") {
  global_view g{65001, 0xC000020B, 179, {}};
  auto m = to_global(g);
  CHECK(m.asn() == 65001);
  CHECK(m.router_id() == "192.0.2.11");
  CHECK(m.listen_port() == 0);
  g.listen_addresses = {"::"};
  m = to_global(g);
  CHECK(m.listen_port() == 179);
  REQUIRE(m.listen_addresses_size() == 1);
  CHECK(m.listen_addresses(0) == "::");
}

TEST_CASE("Peer: every sub-message the CLI dereferences is present") {
  peer_view v;
  v.config.address = *ip_address::parse("2001:db8::1");
  v.config.asn = 65000;
  v.config.local_asn = 65001;
  v.config.families = {ipv4_unicast, ipv6_unicast};
  auto check_shape = [](const apipb::Peer& p) {
    CHECK(p.has_conf());
    CHECK(p.has_state());
    CHECK(p.state().has_queues());
    CHECK(p.state().has_messages());
    CHECK(p.state().messages().has_sent());
    CHECK(p.state().messages().has_received());
    CHECK(p.has_timers());
    CHECK(p.timers().has_config());
    CHECK(p.timers().has_state());
    CHECK(p.has_route_reflector());
    CHECK(p.has_route_server());
    CHECK(p.has_transport());
    for (auto& as : p.afi_safis()) {
      CHECK(as.has_state());
      CHECK(as.state().has_family());
      CHECK(as.has_config());
    }
  };
  SECTION("never up: no uptime (the CLI shows never), admin state up") {
    auto p = to_peer(v);
    check_shape(p);
    CHECK(p.state().neighbor_address() == "2001:db8::1");
    CHECK(p.conf().neighbor_address() == "2001:db8::1");
    CHECK(p.state().session_state() == apipb::PeerState::IDLE);
    CHECK(p.state().admin_state() == apipb::PeerState::UP);
    CHECK(!p.timers().state().has_uptime());
    CHECK(p.afi_safis_size() == 2);
    CHECK(p.conf().type() == apipb::EXTERNAL);
  }
  SECTION("established: absolute uptime, counters, capabilities, advertised per family") {
    auto up = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
    v.status.state = bgp::session_state::established;
    v.status.established_since = up;
    v.status.last_up = up;
    v.status.last_down = up - std::chrono::seconds(60);
    v.status.hold_time = 90;
    v.status.keepalive = 30;
    v.status.remote_id = 0xC0000201;
    v.status.messages_in = {10, 1, 5, 0, 4, 0};
    v.status.messages_out = {8, 1, 3, 0, 4, 0};
    v.status.advertised_v4 = 3;
    v.status.advertised_v6 = 2;
    v.received[ipv6_unicast] = 7;
    open_message o;
    o.capabilities = {cap::multiprotocol{ipv6_unicast}, cap::route_refresh{}, cap::four_octet_as{65000},
                      cap::graceful_restart{true, false, 120, {{ipv6_unicast, true}}},
                      cap::extended_next_hop{{{ipv4_unicast, afi::ipv6}}}, cap::fqdn{"node-1", ""},
                      cap::extended_message{}, cap::unknown{99, {std::byte{1}}}};
    v.remote_open = o;
    v.local_open = o;
    auto p = to_peer(v);
    check_shape(p);
    CHECK(p.state().session_state() == apipb::PeerState::ESTABLISHED);
    CHECK(p.timers().state().uptime().seconds() == 1'700'000'000);
    CHECK(p.timers().state().downtime().seconds() == 1'700'000'000 - 60);
    CHECK(p.timers().state().negotiated_hold_time() == 90);
    CHECK(p.state().router_id() == "192.0.2.1");
    CHECK(p.state().messages().received().update() == 5);
    CHECK(p.state().messages().received().total() == 10);
    CHECK(p.state().messages().sent().keepalive() == 4);
    REQUIRE(p.afi_safis_size() == 2);
    CHECK(p.afi_safis(0).state().advertised() == 3);
    CHECK(p.afi_safis(1).state().advertised() == 2);
    CHECK(p.afi_safis(1).state().received() == 7);
    CHECK(p.afi_safis(1).state().accepted() == 7);
    REQUIRE(p.state().remote_cap_size() == 8);
    auto mp = unpack<apipb::MultiProtocolCapability>(p.state().remote_cap(0));
    CHECK(mp.family().afi() == apipb::Family::AFI_IP6);
    CHECK(unpack<apipb::FourOctetASNCapability>(p.state().remote_cap(2)).asn() == 65000);
    auto gr = unpack<apipb::GracefulRestartCapability>(p.state().remote_cap(3));
    CHECK(gr.flags() == 0x8);
    CHECK(gr.time() == 120);
    REQUIRE(gr.tuples_size() == 1);
    CHECK(gr.tuples(0).flags() == 0x80);
    auto enh = unpack<apipb::ExtendedNexthopCapability>(p.state().remote_cap(4));
    CHECK(enh.tuples(0).nexthop_family().afi() == apipb::Family::AFI_IP6);
    CHECK(unpack<apipb::FqdnCapability>(p.state().remote_cap(5)).host_name() == "node-1");
    CHECK(unpack<apipb::UnknownCapability>(p.state().remote_cap(6)).code() == 6);
    CHECK(unpack<apipb::UnknownCapability>(p.state().remote_cap(7)).code() == 99);
    CHECK(p.graceful_restart().enabled());
  }
  SECTION("administratively down") {
    v.admin_down = true;
    v.status.last_down = std::chrono::system_clock::now();
    auto p = to_peer(v);
    CHECK(p.state().admin_state() == apipb::PeerState::DOWN);
    CHECK(p.conf().admin_down());
    CHECK(p.timers().state().has_downtime());
  }
}

TEST_CASE("Capabilities GoBGP types are never sent as UnknownCapability (the CLI would crash)") {
  open_message o;
  // BIRD sends RFC 9494 long-lived graceful restart (code 71), which Herald keeps raw.
  bytes llgr{std::byte{0}, std::byte{1}, std::byte{1}, std::byte{0x80}, std::byte{0}, std::byte{1}, std::byte{0}};
  o.capabilities = {cap::unknown{71, llgr}, cap::unknown{71, {}}, cap::unknown{64, {std::byte{1}}},
                    cap::unknown{128, {}}, cap::unknown{4, {}}, cap::unknown{200, {std::byte{9}}},
                    cap::unknown{71, {std::byte{1}}}};
  auto caps = to_capabilities(o);
  REQUIRE(caps.size() == 5);  // the malformed GR (64) and LLGR are left out
  auto l = unpack<apipb::LongLivedGracefulRestartCapability>(caps[0]);
  REQUIRE(l.tuples_size() == 1);
  CHECK(l.tuples(0).family().afi() == apipb::Family::AFI_IP);
  CHECK(l.tuples(0).flags() == 0x80);
  CHECK(l.tuples(0).time() == 256);
  CHECK(unpack<apipb::LongLivedGracefulRestartCapability>(caps[1]).tuples_size() == 0);
  CHECK(caps[2].Is<apipb::RouteRefreshCiscoCapability>());
  CHECK(caps[3].Is<apipb::CarryingLabelInfoCapability>());
  CHECK(unpack<apipb::UnknownCapability>(caps[4]).code() == 200);
}

TEST_CASE("Destinations of the global RIB: CIDR text, family, NLRI, one attribute per type") {
  auto attrs = std::make_shared<const bgp::route_attrs>(bgp::route_attrs{
      {0xFDE90064, community::no_export}, {{65001, 1, 2}}, {make_link_bandwidth({65001, 125000.0f, false})},
      std::nullopt, 50, 0, std::nullopt, {}});
  table_view t;
  t.kind = table_kind::global;
  auto since = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'123));
  t.routes.push_back({pfx("198.51.100.10/32"), attrs, nullptr, since, false});
  t.routes.push_back({pfx("203.0.113.77/32"), attrs, nullptr, since, true});
  auto ds = to_destinations(t);
  REQUIRE(ds.size() == 2);
  auto& d = ds[0];
  CHECK(d.prefix() == "198.51.100.10/32");
  REQUIRE(d.paths_size() == 1);
  auto& p = d.paths(0);
  CHECK(p.has_family());
  CHECK(p.family().afi() == apipb::Family::AFI_IP);
  auto nlri = unpack<apipb::IPAddressPrefix>(p.nlri());
  CHECK(nlri.prefix() == "198.51.100.10");
  CHECK(nlri.prefix_len() == 32);
  CHECK(p.best());
  CHECK(p.age().seconds() == 1'700'000'123);
  CHECK(p.uuid().empty());
  auto names = attribute_names(p);
  CHECK(names == std::vector<std::string>{"apipb.OriginAttribute", "apipb.NextHopAttribute",
                                          "apipb.MultiExitDiscAttribute", "apipb.CommunitiesAttribute",
                                          "apipb.ExtendedCommunitiesAttribute", "apipb.LargeCommunitiesAttribute"});
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
  CHECK(unpack<apipb::NextHopAttribute>(p.pattrs(1)).next_hop() == "0.0.0.0");
  CHECK(unpack<apipb::MultiExitDiscAttribute>(p.pattrs(2)).med() == 50);
  auto ext = unpack<apipb::ExtendedCommunitiesAttribute>(p.pattrs(4));
  REQUIRE(ext.communities_size() == 1);
  CHECK(unpack<apipb::LinkBandwidthExtended>(ext.communities(0)).asn() == 65001);
  // An operator route carries its uuid, the same one AddPath answered.
  CHECK(ds[1].paths(0).uuid() == operator_route_uuid(pfx("203.0.113.77/32")));
}

TEST_CASE("Destinations of IPv6 routes carry MP_REACH_NLRI with family, next hop and the prefix") {
  table_view t;
  t.kind = table_kind::global;
  t.family = ipv6_unicast;
  t.routes.push_back({pfx("2001:db8:5::/64"), std::make_shared<const bgp::route_attrs>(), nullptr, std::nullopt, false});
  auto ds = to_destinations(t);
  REQUIRE(ds.size() == 1);
  auto& p = ds[0].paths(0);
  CHECK(p.family().afi() == apipb::Family::AFI_IP6);
  CHECK(attribute_names(p) == std::vector<std::string>{"apipb.OriginAttribute", "apipb.MpReachNLRIAttribute"});
  auto reach = unpack<apipb::MpReachNLRIAttribute>(p.pattrs(1));
  CHECK(reach.family().afi() == apipb::Family::AFI_IP6);
  REQUIRE(reach.next_hops_size() == 1);
  CHECK(reach.next_hops(0) == "::");
  REQUIRE(reach.nlris_size() == 1);
  CHECK(unpack<apipb::IPAddressPrefix>(reach.nlris(0)).prefix() == "2001:db8:5::");
}

TEST_CASE("Adj-RIB-Out paths are shown as sent; Adj-RIB-In paths as received") {
  table_view out;
  out.kind = table_kind::adj_out;
  out.export_ctx.local_asn = 65001;
  out.export_ctx.ebgp = true;
  out.export_ctx.next_hop_v4 = ip_address::v4(0xC6336401);
  out.routes.push_back({pfx("198.51.100.10/32"), std::make_shared<const bgp::route_attrs>(), nullptr, std::nullopt, false});
  auto ds = to_destinations(out);
  REQUIRE(ds.size() == 1);
  auto& p = ds[0].paths(0);
  CHECK(!p.best());
  auto path = unpack<apipb::AsPathAttribute>(p.pattrs(1));
  REQUIRE(path.segments_size() == 1);
  CHECK(path.segments(0).numbers(0) == 65001);
  CHECK(unpack<apipb::NextHopAttribute>(p.pattrs(2)).next_hop() == "198.51.100.1");

  table_view in;
  in.kind = table_kind::adj_in;
  in.local_asn = 65001;
  in.peer_address = "198.51.100.2";
  in.peer_asn = 65000;
  in.peer_router_id = 0xC0000202;
  auto received = std::make_shared<path_attributes>();
  received->origin = origin_type::incomplete;
  received->path = as_path{{as_segment::as_sequence, {65000, 65100}}};
  received->next_hop = ip_address::v4(0xC6336402);
  received->unknown.push_back({0xC0, 99, {std::byte{7}}});
  in.routes.push_back({pfx("192.0.2.0/24"), nullptr, received, std::nullopt, false});
  ds = to_destinations(in);
  REQUIRE(ds.size() == 1);
  auto& q = ds[0].paths(0);
  CHECK(q.neighbor_ip() == "198.51.100.2");
  CHECK(q.source_id() == "192.0.2.2");
  CHECK(q.is_from_external());
  CHECK(unpack<apipb::OriginAttribute>(q.pattrs(0)).origin() == 2);
  CHECK(unpack<apipb::AsPathAttribute>(q.pattrs(1)).segments(0).numbers(1) == 65100);
  CHECK(unpack<apipb::UnknownAttribute>(q.pattrs(3)).type() == 99);
}

namespace {

// A path as `gobgp global rib add PREFIX ...` builds it.
apipb::Path cli_path(std::string_view addr, unsigned len, family f) {
  apipb::Path p;
  apipb::IPAddressPrefix n;
  n.set_prefix(std::string(addr));
  n.set_prefix_len(len);
  p.mutable_nlri()->PackFrom(n);
  *p.mutable_family() = to_family(f);
  apipb::OriginAttribute o;
  o.set_origin(2);
  p.add_pattrs()->PackFrom(o);
  return p;
}

}  // namespace

TEST_CASE("AddPath: the CLI's path becomes an operator route") {
  auto p = cli_path("203.0.113.77", 32, ipv4_unicast);
  apipb::NextHopAttribute nh;
  nh.set_next_hop("0.0.0.0");
  p.add_pattrs()->PackFrom(nh);
  apipb::MultiExitDiscAttribute med;
  med.set_med(7);
  p.add_pattrs()->PackFrom(med);
  apipb::CommunitiesAttribute comm;
  comm.add_communities(0xFDE90005);
  p.add_pattrs()->PackFrom(comm);
  apipb::LargeCommunitiesAttribute large;
  auto* lc = large.add_communities();
  lc->set_global_admin(64512);
  lc->set_local_data1(5);
  lc->set_local_data2(6);
  p.add_pattrs()->PackFrom(large);
  apipb::ExtendedCommunitiesAttribute ext;
  apipb::TwoOctetAsSpecificExtended rt;
  rt.set_is_transitive(true);
  rt.set_sub_type(2);
  rt.set_asn(65000);
  rt.set_local_admin(5);
  ext.add_communities()->PackFrom(rt);
  p.add_pattrs()->PackFrom(ext);
  auto r = from_path(p);
  REQUIRE(r);
  CHECK(r->prefix == pfx("203.0.113.77/32"));
  CHECK(!r->attrs.next_hop);  // 0.0.0.0: next hop self
  CHECK(r->attrs.med == 7u);
  CHECK(r->attrs.communities == std::vector<std::uint32_t>{0xFDE90005});
  CHECK(r->attrs.large_communities == std::vector<large_community>{{64512, 5, 6}});
  REQUIRE(r->attrs.ext_communities.size() == 1);
  CHECK(r->attrs.ext_communities[0].raw == std::array<std::uint8_t, 8>{0x00, 0x02, 0xFD, 0xE8, 0, 0, 0, 5});

  SECTION("an explicit next hop is kept; IPv6 carries it in MP_REACH_NLRI") {
    auto v6 = cli_path("2001:db8:9::", 64, ipv6_unicast);
    apipb::MpReachNLRIAttribute reach;
    *reach.mutable_family() = to_family(ipv6_unicast);
    reach.add_next_hops("2001:db8::11");
    v6.add_pattrs()->PackFrom(reach);
    auto r6 = from_path(v6);
    REQUIRE(r6);
    CHECK(r6->prefix == pfx("2001:db8:9::/64"));
    REQUIRE(r6->attrs.next_hop);
    CHECK(r6->attrs.next_hop->to_string() == "2001:db8::11");
  }
}

TEST_CASE("AddPath refuses what Herald cannot announce, saying why") {
  SECTION("an AS_PATH") {
    auto p = cli_path("203.0.113.77", 32, ipv4_unicast);
    apipb::AsPathAttribute path;
    auto* seg = path.add_segments();
    seg->set_type(apipb::AsSegment::AS_SEQUENCE);
    seg->add_numbers(65001);
    p.add_pattrs()->PackFrom(path);
    auto r = from_path(p);
    REQUIRE(!r);
    CHECK(r.error().find("AS_PATH") != std::string::npos);
  }
  SECTION("an attribute kind it does not carry") {
    auto p = cli_path("203.0.113.77", 32, ipv4_unicast);
    p.add_pattrs()->PackFrom(apipb::AtomicAggregateAttribute{});
    CHECK(!from_path(p));
  }
  SECTION("a prefix that does not match the family, or is not a prefix") {
    CHECK(!from_path(cli_path("2001:db8::", 64, ipv4_unicast)));
    CHECK(!from_path(cli_path("203.0.113.77", 24, ipv4_unicast)));
    apipb::Path empty;
    CHECK(!from_path(empty));
  }
}

TEST_CASE("operator route uuids are stable per prefix and distinct across prefixes") {
  auto a = operator_route_uuid(pfx("203.0.113.77/32"));
  CHECK(a.size() == 16);
  CHECK(a == operator_route_uuid(pfx("203.0.113.77/32")));
  CHECK(a != operator_route_uuid(pfx("203.0.113.78/32")));
  CHECK(a != operator_route_uuid(pfx("203.0.113.76/31")));
}

TEST_CASE("listen addresses: loopback or not, and malformed ones") {
  CHECK(*is_loopback_listen("127.0.0.1:50051"));
  CHECK(*is_loopback_listen("[::1]:50051"));
  CHECK(*is_loopback_listen("localhost:50051"));
  CHECK(!*is_loopback_listen("0.0.0.0:50051"));
  CHECK(!*is_loopback_listen("[::]:50051"));
  CHECK(!*is_loopback_listen("192.0.2.1:50051"));
  CHECK(!is_loopback_listen("50051"));
  CHECK(!is_loopback_listen("host.example:50051"));
}
