// Text forms of the codec's value types, and the link-bandwidth community.
#include "bgp/wire/types.hpp"

#include <arpa/inet.h>

#include <bit>
#include <charconv>
#include <cstring>

namespace herald::bgp::wire {

namespace {
template <class T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}
}  // namespace

std::string to_string(family f) {
  std::string s = f.a == afi::ipv4 ? "ipv4" : f.a == afi::ipv6 ? "ipv6" : "afi" + std::to_string(static_cast<int>(f.a));
  s += f.s == safi::unicast ? "-unicast" : "-safi" + std::to_string(static_cast<int>(f.s));
  return s;
}

ip_address ip_address::v4(std::uint32_t host_order) {
  ip_address a;
  a.family = afi::ipv4;
  a.octets[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.octets[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.octets[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.octets[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

ip_address ip_address::v4(std::array<std::uint8_t, 4> b) {
  ip_address a;
  a.family = afi::ipv4;
  std::memcpy(a.octets.data(), b.data(), 4);
  return a;
}

ip_address ip_address::v6(const std::array<std::uint8_t, 16>& b) {
  ip_address a;
  a.family = afi::ipv6;
  a.octets = b;
  return a;
}

std::optional<ip_address> ip_address::parse(std::string_view text) {
  if (text.size() > 45) return std::nullopt;
  char buf[46] = {};
  std::memcpy(buf, text.data(), text.size());
  ip_address a;
  if (inet_pton(AF_INET, buf, a.octets.data()) == 1) {
    a.family = afi::ipv4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.octets.data()) == 1) {
    a.family = afi::ipv6;
    return a;
  }
  return std::nullopt;
}

std::uint32_t ip_address::v4_host_order() const {
  return std::uint32_t{octets[0]} << 24 | std::uint32_t{octets[1]} << 16 | std::uint32_t{octets[2]} << 8 | octets[3];
}

std::string ip_address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, octets.data(), buf, sizeof buf);
  return buf;
}

std::optional<ip_prefix> ip_prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = ip_address::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  unsigned max = addr->is_v4() ? 32 : 128;
  unsigned len = max;
  if (slash != std::string_view::npos) {
    auto n = parse_number<unsigned>(text.substr(slash + 1));
    if (!n || *n > max) return std::nullopt;
    len = *n;
  }
  // Host bits must be zero: "10.0.0.1/8" is a typo more often than a wish.
  for (unsigned bit = len; bit < max; ++bit)
    if (addr->octets[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;
  return ip_prefix{*addr, static_cast<std::uint8_t>(len)};
}

std::string ip_prefix::to_string() const { return addr.to_string() + "/" + std::to_string(length); }

namespace {
// addr with the bits past `length` cleared (set_host_bits false) or set.
ip_address with_host_bits(ip_address a, std::size_t length, bool set_host_bits) {
  std::size_t bits = length;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto keep = static_cast<std::uint8_t>(bits >= 8 ? 0xff : 0xff << (8 - bits));
    a.octets[i] = static_cast<std::uint8_t>(set_host_bits ? a.octets[i] | ~keep : a.octets[i] & keep);
    bits = bits >= 8 ? bits - 8 : 0;
  }
  return a;
}
}  // namespace

ip_address ip_prefix::first() const { return with_host_bits(addr, length, false); }
ip_address ip_prefix::last() const { return with_host_bits(addr, length, true); }

namespace community {
namespace {
struct named {
  std::uint32_t value;
  std::string_view name;
};
constexpr named well_known[] = {
    {graceful_shutdown, "GRACEFUL_SHUTDOWN"}, {accept_own, "ACCEPT_OWN"},
    {llgr_stale, "LLGR_STALE"},               {no_llgr, "NO_LLGR"},
    {blackhole, "BLACKHOLE"},                 {no_export, "NO_EXPORT"},
    {no_advertise, "NO_ADVERTISE"},           {no_export_subconfed, "NO_EXPORT_SUBCONFED"},
    {no_peer, "NOPEER"},
};
}  // namespace

std::string to_string(std::uint32_t c) {
  for (auto& n : well_known)
    if (n.value == c) return std::string(n.name);
  return std::to_string(c >> 16) + ":" + std::to_string(c & 0xffff);
}

std::optional<std::uint32_t> parse(std::string_view text) {
  for (auto& n : well_known)
    if (n.name == text) return n.value;
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto hi = parse_number<std::uint16_t>(text.substr(0, colon));
  auto lo = parse_number<std::uint16_t>(text.substr(colon + 1));
  if (!hi || !lo) return std::nullopt;
  return std::uint32_t{*hi} << 16 | *lo;
}
}  // namespace community

std::string large_community::to_string() const {
  return std::to_string(global_admin) + ":" + std::to_string(local1) + ":" + std::to_string(local2);
}

std::optional<large_community> large_community::parse(std::string_view text) {
  auto c1 = text.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  auto c2 = text.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  auto a = parse_number<std::uint32_t>(text.substr(0, c1));
  auto b = parse_number<std::uint32_t>(text.substr(c1 + 1, c2 - c1 - 1));
  auto c = parse_number<std::uint32_t>(text.substr(c2 + 1));
  if (!a || !b || !c) return std::nullopt;
  return large_community{*a, *b, *c};
}

extended_community make_link_bandwidth(const link_bandwidth& lb) {
  extended_community ec;
  ec.raw[0] = lb.transitive ? 0x00 : 0x40;
  ec.raw[1] = 0x04;
  ec.raw[2] = static_cast<std::uint8_t>(lb.asn >> 8);
  ec.raw[3] = static_cast<std::uint8_t>(lb.asn);
  auto bits = std::bit_cast<std::uint32_t>(lb.bytes_per_second);
  for (int i = 0; i < 4; ++i) ec.raw[static_cast<std::size_t>(4 + i)] = static_cast<std::uint8_t>(bits >> (24 - 8 * i));
  return ec;
}

std::optional<link_bandwidth> as_link_bandwidth(const extended_community& ec) {
  if ((ec.raw[0] != 0x00 && ec.raw[0] != 0x40) || ec.raw[1] != 0x04) return std::nullopt;
  std::uint32_t bits = 0;
  for (int i = 0; i < 4; ++i) bits = bits << 8 | ec.raw[static_cast<std::size_t>(4 + i)];
  return link_bandwidth{static_cast<std::uint16_t>(ec.raw[2] << 8 | ec.raw[3]), std::bit_cast<float>(bits),
                        ec.raw[0] == 0x00};
}

}  // namespace herald::bgp::wire
