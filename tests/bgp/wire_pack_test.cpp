// Update packing: prefixes sharing attributes fill as few UPDATEs as the
// size limit allows, and every one of them comes back out.
#include <catch2/catch.hpp>

#include "wire_test_util.hpp"

#include <set>

#include "bgp/wire/message.hpp"
#include "bgp/wire/pack.hpp"

using namespace herald::bgp::wire;

namespace {

std::vector<ip_prefix> v4_hosts(std::size_t n) {
  std::vector<ip_prefix> out;
  for (std::uint32_t i = 0; i < n; ++i) out.push_back({ip_address::v4(0xC6336400u + i), 32});
  return out;
}
std::vector<ip_prefix> v6_hosts(std::size_t n) {
  std::vector<ip_prefix> out;
  for (std::uint32_t i = 0; i < n; ++i) {
    auto a = *ip_address::parse("2001:db8::");
    a.octets[12] = static_cast<std::uint8_t>(i >> 24);
    a.octets[13] = static_cast<std::uint8_t>(i >> 16);
    a.octets[14] = static_cast<std::uint8_t>(i >> 8);
    a.octets[15] = static_cast<std::uint8_t>(i);
    out.push_back({a, 128});
  }
  return out;
}

path_attributes attrs_with(std::optional<ip_address> nh) {
  path_attributes a;
  a.origin = origin_type::igp;
  a.path = as_path{{as_segment::as_sequence, {65001}}};
  a.communities = {0xFDE90064};
  a.med = 10;
  if (nh && nh->is_v4()) a.next_hop = nh;
  else if (nh) a.reach = mp_reach{ipv6_unicast, {*nh}, {}};
  return a;
}

// Decodes a packed stream; returns announced (or withdrawn) prefixes and checks each message.
std::vector<ip_prefix> unpack(const bytes& stream, const update_context& ctx, std::size_t expect_messages,
                              bool withdrawn) {
  std::vector<ip_prefix> got;
  std::span<const std::byte> rest(stream);
  std::size_t messages = 0;
  while (!rest.empty()) {
    auto f = frame(rest, ctx.max_message);
    REQUIRE(f.kind == frame_result::message);
    REQUIRE(f.length <= ctx.max_message);
    auto d = decode_message(rest.first(f.length), ctx);
    REQUIRE(d);
    REQUIRE(d->errors.empty());
    auto& u = std::get<update_message>(d->msg);
    auto& list = withdrawn ? (u.attrs.unreach ? u.attrs.unreach->withdrawn : u.withdrawn)
                           : (u.attrs.reach ? u.attrs.reach->nlri : u.nlri);
    got.insert(got.end(), list.begin(), list.end());
    if (!withdrawn) {
      CHECK(u.attrs.communities == std::vector<std::uint32_t>{0xFDE90064});
      CHECK(u.attrs.med == 10u);
    }
    rest = rest.subspan(f.length);
    ++messages;
  }
  CHECK(messages == expect_messages);
  return got;
}

}  // namespace

TEST_CASE("pack 10,000 IPv4 /32 into full 4096-octet UPDATEs") {
  auto prefixes = v4_hosts(10000);
  bytes out;
  update_context ctx;
  auto n = pack_announce(attrs_with(ip_address::parse("192.0.2.1")), prefixes, ctx, out);
  // Header 19 + lengths 4 + attributes leave room for ~810 five-octet prefixes.
  CHECK(n == 13);
  CHECK(out.size() / prefixes.size() < 6);  // bytes on the wire per prefix
  CHECK(unpack(out, ctx, n, false) == prefixes);
}

TEST_CASE("pack IPv6 /128 into MP_REACH_NLRI, and IPv4 over an IPv6 next hop") {
  auto prefixes = v6_hosts(3000);
  bytes out;
  update_context ctx;
  auto n = pack_announce(attrs_with(ip_address::parse("2001:db8::1")), prefixes, ctx, out);
  CHECK(n == 13);  // ~236 seventeen-octet prefixes per message
  CHECK(unpack(out, ctx, n, false) == prefixes);

  auto v4 = v4_hosts(100);
  bytes out4;
  auto a = attrs_with(ip_address::parse("2001:db8::1"));
  a.reach->f = ipv4_unicast;
  CHECK(pack_announce(a, v4, ctx, out4) == 1);
  auto d = decode_message(out4);
  REQUIRE(d);
  auto& u = std::get<update_message>(d->msg);
  REQUIRE(u.attrs.reach);
  CHECK(u.attrs.reach->f == ipv4_unicast);
  CHECK(u.attrs.reach->next_hops.at(0).to_string() == "2001:db8::1");
  CHECK(u.attrs.reach->nlri == v4);
  CHECK_FALSE(u.attrs.next_hop);
}

TEST_CASE("withdrawals are packed too") {
  update_context ctx;
  auto v4 = v4_hosts(5000);
  bytes out;
  auto n = pack_withdraw(ipv4_unicast, v4, ctx, out);
  CHECK(n == 7);
  CHECK(unpack(out, ctx, n, true) == v4);
  auto v6 = v6_hosts(1000);
  bytes out6;
  auto n6 = pack_withdraw(ipv6_unicast, v6, ctx, out6);
  CHECK(n6 == 5);
  CHECK(unpack(out6, ctx, n6, true) == v6);
}

TEST_CASE("extended messages (RFC 8654) carry 16 times more per UPDATE") {
  update_context ext;
  ext.max_message = max_extended_message_size;
  auto prefixes = v4_hosts(20000);
  bytes out;
  auto n = pack_announce(attrs_with(ip_address::parse("192.0.2.1")), prefixes, ext, out);
  CHECK(n == 2);
  CHECK(unpack(out, ext, n, false) == prefixes);
}

TEST_CASE("nothing to pack, nothing sent") {
  bytes out;
  CHECK(pack_announce(attrs_with(ip_address::parse("192.0.2.1")), {}, {}, out) == 0);
  CHECK(pack_withdraw(ipv6_unicast, {}, {}, out) == 0);
  CHECK(out.empty());
}
