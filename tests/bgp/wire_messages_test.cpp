// Round trips: every message type, capability and attribute encodes and
// decodes back to the same value (STYLE.md §6, GoBGP Test_Message).
#include <catch2/catch.hpp>

#include "bgp/wire/message.hpp"
#include "wire_test_util.hpp"

using namespace herald::bgp::wire;
using herald::bgp::wire::test::to_hex;

namespace {

message round_trip(const message& m, const update_context& ctx = {}) {
  bytes out;
  encode_message(m, ctx, out);
  REQUIRE(out.size() >= header_size);
  auto f = frame(out, ctx.max_message);
  REQUIRE(f.kind == frame_result::message);
  REQUIRE(f.length == out.size());
  auto d = decode_message(out, ctx);
  INFO(to_hex(out));
  REQUIRE(d);
  CHECK(d->action == error_action::none);
  return d->msg;
}

ip_prefix pfx(const char* s) { return *ip_prefix::parse(s); }
ip_address addr(const char* s) { return *ip_address::parse(s); }

open_message full_open() {
  open_message o;
  o.my_as = as_trans;
  o.hold_time = 90;
  o.bgp_id = 0xC0000201;
  o.capabilities = {
      cap::multiprotocol{ipv4_unicast},
      cap::multiprotocol{ipv6_unicast},
      cap::route_refresh{},
      cap::enhanced_route_refresh{},
      cap::four_octet_as{4200000001},
      cap::graceful_restart{true, true, 120, {{ipv4_unicast, true}, {ipv6_unicast, false}}},
      cap::extended_next_hop{{{ipv4_unicast, afi::ipv6}}},
      cap::extended_message{},
      cap::add_path{{{ipv4_unicast, 1}, {ipv6_unicast, 3}}},
      cap::fqdn{"node-1", "example.org"},
      cap::unknown{200, {std::byte{1}, std::byte{2}}},
  };
  return o;
}

}  // namespace

TEST_CASE("KEEPALIVE round trip is 19 octets") {
  bytes out;
  encode_keepalive(out);
  CHECK(out.size() == 19);
  CHECK(std::holds_alternative<keepalive_message>(round_trip(keepalive_message{})));
}

TEST_CASE("OPEN round trip with every capability") {
  auto o = full_open();
  auto back = std::get<open_message>(round_trip(o));
  CHECK(back == o);
  CHECK(back.asn() == 4200000001u);
  CHECK(back.has_family(ipv6_unicast));
  REQUIRE(back.find<cap::graceful_restart>());
  CHECK(back.find<cap::graceful_restart>()->restart_time == 120);
  CHECK(back.find<cap::fqdn>()->hostname == "node-1");
}

TEST_CASE("OPEN with each capability alone") {
  auto all = full_open().capabilities;
  REQUIRE(all.size() == 11);
  for (auto& c : all) {
    open_message o;
    o.my_as = 65001;
    o.hold_time = 3;
    o.bgp_id = 1;
    o.capabilities = {c};
    CHECK(std::get<open_message>(round_trip(o)) == o);
  }
}

TEST_CASE("OPEN past 255 octets of parameters uses RFC 9072 extended length") {
  auto o = full_open();
  o.capabilities.push_back(cap::fqdn{std::string(200, 'h'), std::string(40, 'd')});
  o.capabilities.push_back(cap::unknown{201, bytes(100, std::byte{9})});
  bytes out;
  encode_open(o, out);
  // Non-Extended Optional Parameters Length 255, then type 255.
  CHECK(std::to_integer<int>(out[28]) == 255);
  CHECK(std::to_integer<int>(out[29]) == 255);
  CHECK(std::get<open_message>(round_trip(o)) == o);
}

TEST_CASE("OPEN: an FQDN capability too long for one octet of length is cut to fit") {
  open_message o;
  o.my_as = 65001;
  o.hold_time = 90;
  o.bgp_id = 1;
  o.capabilities = {cap::fqdn{std::string(300, 'h'), "example.org"}};
  auto back = std::get<open_message>(round_trip(o));
  auto f = back.find<cap::fqdn>();
  REQUIRE(f);
  CHECK(f->hostname.size() + f->domain.size() == 253);
}

TEST_CASE("OPEN keeps a known capability with a bad shape as raw bytes") {
  open_message o;
  o.my_as = 65001;
  o.hold_time = 90;
  o.bgp_id = 1;
  o.capabilities = {cap::unknown{65, {std::byte{1}}}};  // 4-octet AS with one octet
  auto back = std::get<open_message>(round_trip(o));
  REQUIRE(std::holds_alternative<cap::unknown>(back.capabilities.at(0)));
  CHECK(back.asn() == 65001u);
}

TEST_CASE("NOTIFICATION round trip, with RFC 9003 shutdown communication") {
  notification_message n{notification_code::update_message_error, 3, {std::byte{1}}};
  CHECK(std::get<notification_message>(round_trip(n)) == n);
  auto s = notification_message::shutdown(cease_subcode::administrative_shutdown, "node drained for upgrade");
  auto back = std::get<notification_message>(round_trip(s));
  CHECK(back.shutdown_communication() == "node drained for upgrade");
  CHECK(back.to_string() == "Cease / Administrative Shutdown \"node drained for upgrade\"");
  // Over 255 octets is cut, never mid-character.
  std::string long_text(254, 'x');
  long_text += "\xc3\xa9";  // é straddles octet 255
  auto cut = notification_message::shutdown(cease_subcode::administrative_reset, long_text);
  CHECK(cut.shutdown_communication()->size() == 254);
  notification_message no_comm{notification_code::cease, 2, {std::byte{10}}};  // length past data
  CHECK_FALSE(no_comm.shutdown_communication());
  CHECK(notification_name(notification_code::cease, 10) == "Cease / BFD Down");
  CHECK(make_error_code(notification_code::hold_timer_expired, 0).message() == "Hold Timer Expired");
}

TEST_CASE("Cease / Maximum Number of Prefixes Reached carries the family and the limit (RFC 4486 §4)") {
  auto n = notification_message::maximum_prefixes(ipv6_unicast, 70000);
  CHECK(n.data == bytes{std::byte{0}, std::byte{2}, std::byte{1}, std::byte{0}, std::byte{1}, std::byte{0x11},
                        std::byte{0x70}});
  auto back = std::get<notification_message>(round_trip(n));
  REQUIRE(back.maximum_prefixes_data());
  CHECK(back.maximum_prefixes_data()->fam == ipv6_unicast);
  CHECK(back.maximum_prefixes_data()->limit == 70000);
  CHECK(back.to_string() == "Cease / Maximum Number of Prefixes Reached (ipv6-unicast, limit 70000)");
  // The data is optional (RFC 4486 §4): without it, or cut short, only the name.
  notification_message bare{notification_code::cease, 1, {}};
  CHECK_FALSE(bare.maximum_prefixes_data());
  CHECK(bare.to_string() == "Cease / Maximum Number of Prefixes Reached");
  notification_message short_data{notification_code::cease, 1, {std::byte{0}, std::byte{1}, std::byte{1}}};
  CHECK_FALSE(short_data.maximum_prefixes_data());
  // Another Cease subcode with 7 octets of data is not read as a limit.
  notification_message other{notification_code::cease, 3, n.data};
  CHECK_FALSE(other.maximum_prefixes_data());
}

TEST_CASE("ROUTE-REFRESH round trip with BoRR and EoRR") {
  for (auto st : {route_refresh_message::normal, route_refresh_message::begin, route_refresh_message::end}) {
    route_refresh_message r{ipv6_unicast, st};
    CHECK(std::get<route_refresh_message>(round_trip(r)) == r);
  }
}

TEST_CASE("UPDATE round trip with every attribute") {
  update_message u;
  u.withdrawn = {pfx("198.51.100.0/24"), pfx("203.0.113.128/25")};
  u.nlri = {pfx("192.0.2.10/32"), pfx("192.0.2.0/24"), pfx("0.0.0.0/0")};
  auto& a = u.attrs;
  a.origin = origin_type::incomplete;
  a.path = as_path{{as_segment::as_sequence, {65001, 4200000001}}, {as_segment::as_set, {65010, 65011}}};
  a.next_hop = addr("192.0.2.1");
  a.med = 50;
  a.local_pref = 200;
  a.atomic_aggregate = true;
  a.aggr = aggregator{65001, 0xC0000201};
  a.communities = {0xFDE90064, community::graceful_shutdown};
  a.ext_communities = {make_link_bandwidth({65001, 125000.0f, false}), make_link_bandwidth({65001, 1.0f, true})};
  a.large_communities = {{65001, 1, 2}, {4200000001, 3, 4}};
  a.unknown = {raw_attribute{attr_flag::optional | attr_flag::transitive | attr_flag::partial, 99,
                             {std::byte{7}, std::byte{8}}}};
  update_context ibgp;
  ibgp.ebgp = false;
  CHECK(std::get<update_message>(round_trip(u, ibgp)) == u);
  CHECK(a.flat_as_path() == std::vector<std::uint32_t>{65001, 4200000001, 65010, 65011});
}

TEST_CASE("UPDATE: LOCAL_PREF from an eBGP peer is dropped") {
  update_message u;
  u.nlri = {pfx("192.0.2.10/32")};
  u.attrs.origin = origin_type::igp;
  u.attrs.path = as_path{};
  u.attrs.next_hop = addr("192.0.2.1");
  u.attrs.local_pref = 100;
  auto back = std::get<update_message>(round_trip(u));
  CHECK_FALSE(back.attrs.local_pref);
}

TEST_CASE("UPDATE round trip over 2-octet AS: AS_TRANS and AS4_PATH") {
  update_message u;
  u.nlri = {pfx("192.0.2.10/32")};
  u.attrs.origin = origin_type::igp;
  u.attrs.path = as_path{{as_segment::as_sequence, {4200000001, 65001}}};
  u.attrs.next_hop = addr("192.0.2.1");
  u.attrs.aggr = aggregator{4200000001, 1};
  update_context old;
  old.four_octet_as = false;
  auto back = std::get<update_message>(round_trip(u, old));
  CHECK(back.attrs.path->front().asns == std::vector<std::uint32_t>{as_trans, 65001});
  REQUIRE(back.attrs.as4_path);
  CHECK(back.attrs.flat_as_path() == std::vector<std::uint32_t>{4200000001, 65001});
  CHECK(back.attrs.aggr->asn == as_trans);
  CHECK(back.attrs.as4_aggr->asn == 4200000001u);
}

TEST_CASE("UPDATE round trip: MP_REACH / MP_UNREACH for IPv6 and IPv4 over IPv6 next hop") {
  SECTION("IPv6 with global and link-local next hop") {
    update_message u;
    u.attrs.origin = origin_type::igp;
    u.attrs.path = as_path{{as_segment::as_sequence, {65001}}};
    u.attrs.reach = mp_reach{ipv6_unicast, {addr("2001:db8::1"), addr("fe80::1")},
                             {pfx("2001:db8:1::10/128"), pfx("2001:db8:2::/48")}};
    u.attrs.unreach = mp_unreach{ipv6_unicast, {pfx("2001:db8:3::/64")}};
    CHECK(std::get<update_message>(round_trip(u)) == u);
  }
  SECTION("IPv4 NLRI with an IPv6 next hop (RFC 8950)") {
    update_message u;
    u.attrs.origin = origin_type::igp;
    u.attrs.path = as_path{};
    u.attrs.reach = mp_reach{ipv4_unicast, {addr("2001:db8::1")}, {pfx("192.0.2.10/32")}};
    CHECK(std::get<update_message>(round_trip(u)) == u);
  }
}

TEST_CASE("End-of-RIB markers") {
  for (auto f : {ipv4_unicast, ipv6_unicast}) {
    bytes out;
    encode_end_of_rib(f, out);
    auto d = decode_message(out);
    REQUIRE(d);
    CHECK(std::get<update_message>(d->msg).end_of_rib() == f);
  }
  bytes v4;
  encode_end_of_rib(ipv4_unicast, v4);
  CHECK(v4.size() == 23);
  update_message not_eor;
  not_eor.withdrawn = {pfx("192.0.2.0/24")};
  CHECK_FALSE(not_eor.end_of_rib());
}

TEST_CASE("frame() streams: need_more until the whole message is there") {
  bytes two;
  encode_keepalive(two);
  encode_route_refresh({ipv4_unicast, route_refresh_message::normal}, two);
  for (std::size_t n = 0; n < 19; ++n) CHECK(frame(std::span(two).first(n)).kind == frame_result::need_more);
  auto f = frame(two);
  REQUIRE(f.kind == frame_result::message);
  CHECK(f.type == message_type::keepalive);
  CHECK(f.length == 19);
  auto rest = std::span(two).subspan(19);
  CHECK(frame(rest.first(20)).kind == frame_result::need_more);
  CHECK(frame(rest).type == message_type::route_refresh);
}

TEST_CASE("extended message size (RFC 8654) only when negotiated") {
  update_message u;
  u.attrs.origin = origin_type::igp;
  u.attrs.path = as_path{};
  u.attrs.next_hop = addr("192.0.2.1");
  for (std::uint32_t i = 0; i < 2000; ++i) u.nlri.push_back(ip_prefix{ip_address::v4(0xC6336400u + i), 32});
  bytes out;
  CHECK_FALSE(encode_update(u, {}, out));
  CHECK(out.empty());
  update_context ext;
  ext.max_message = max_extended_message_size;
  REQUIRE(encode_update(u, ext, out));
  CHECK(out.size() > 4096);
  CHECK(frame(out).kind == frame_result::error);
  CHECK(frame(out, max_extended_message_size).kind == frame_result::message);
  CHECK(std::get<update_message>(decode_message(out, ext)->msg) == u);
}
