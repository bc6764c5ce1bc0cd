// Value types of the BGP wire codec: addresses, prefixes, address families
// and the RFC-named constants (RFC 4271 §4, RFC 4760 §3, IANA BGP registries).
// Pure: no sockets, no clock (STYLE.md §5).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::bgp::wire {

using bytes = std::vector<std::byte>;

// RFC 4271 §4.1
inline constexpr std::size_t header_size = 19;
inline constexpr std::size_t marker_size = 16;
inline constexpr std::size_t max_message_size = 4096;
// RFC 8654 §3: with the extended message capability on both sides.
inline constexpr std::size_t max_extended_message_size = 65535;
// RFC 6793 §9: stands in for a 4-octet AS in 2-octet fields.
inline constexpr std::uint16_t as_trans = 23456;

enum class message_type : std::uint8_t {
  open = 1,
  update = 2,
  notification = 3,
  keepalive = 4,
  route_refresh = 5,  // RFC 2918
};

// IANA Address Family Numbers (RFC 4760 §3).
enum class afi : std::uint16_t { ipv4 = 1, ipv6 = 2 };
// IANA SAFI values.
enum class safi : std::uint8_t { unicast = 1 };

struct family {
  afi a = afi::ipv4;
  safi s = safi::unicast;
  friend constexpr auto operator<=>(family, family) = default;
};
inline constexpr family ipv4_unicast{afi::ipv4, safi::unicast};
inline constexpr family ipv6_unicast{afi::ipv6, safi::unicast};
std::string to_string(family f);

// An IPv4 or IPv6 address in network byte order. IPv4 uses the first 4 bytes.
struct ip_address {
  afi family = afi::ipv4;
  std::array<std::uint8_t, 16> octets{};

  static ip_address v4(std::uint32_t host_order);
  static ip_address v4(std::array<std::uint8_t, 4> b);
  static ip_address v6(const std::array<std::uint8_t, 16>& b);
  // Parses dotted-quad or RFC 4291 text; nullopt on anything else.
  static std::optional<ip_address> parse(std::string_view text);

  bool is_v4() const { return family == afi::ipv4; }
  std::size_t size() const { return is_v4() ? 4 : 16; }
  std::uint32_t v4_host_order() const;
  bool is_v6_link_local() const { return !is_v4() && octets[0] == 0xfe && (octets[1] & 0xc0) == 0x80; }
  std::string to_string() const;
  friend auto operator<=>(const ip_address&, const ip_address&) = default;
};

// A prefix: address plus length; bits past the length are zero when decoded.
struct ip_prefix {
  ip_address addr;
  std::uint8_t length = 0;

  // "a.b.c.d/n" or "x::/n"; a bare address means a host prefix.
  static std::optional<ip_prefix> parse(std::string_view text);
  std::string to_string() const;
  // The first and last address inside (the bits past the length all zero,
  // all one); ip_address's order puts every covered address between them.
  ip_address first() const;
  ip_address last() const;
  // Whether a is inside: the same family, the first `length` bits equal.
  bool covers(const ip_address& a) const { return a.family == addr.family && first() <= a && a <= last(); }
  friend auto operator<=>(const ip_prefix&, const ip_prefix&) = default;
};

// RFC 1997 communities and the well-known values from the IANA registry.
namespace community {
inline constexpr std::uint32_t graceful_shutdown = 0xFFFF0000;  // RFC 8326
inline constexpr std::uint32_t accept_own = 0xFFFF0001;         // RFC 7611
inline constexpr std::uint32_t llgr_stale = 0xFFFF0006;         // RFC 9494
inline constexpr std::uint32_t no_llgr = 0xFFFF0007;            // RFC 9494
inline constexpr std::uint32_t blackhole = 0xFFFF029A;          // RFC 7999
inline constexpr std::uint32_t no_export = 0xFFFFFF01;          // RFC 1997
inline constexpr std::uint32_t no_advertise = 0xFFFFFF02;       // RFC 1997
inline constexpr std::uint32_t no_export_subconfed = 0xFFFFFF03;  // RFC 1997
inline constexpr std::uint32_t no_peer = 0xFFFFFF04;            // RFC 3765
// The well-known name ("GRACEFUL_SHUTDOWN"), or "asn:value".
std::string to_string(std::uint32_t c);
// Accepts "asn:value" (each 0..65535) or a well-known name.
std::optional<std::uint32_t> parse(std::string_view text);
}  // namespace community

// RFC 8092
struct large_community {
  std::uint32_t global_admin = 0, local1 = 0, local2 = 0;
  std::string to_string() const;
  static std::optional<large_community> parse(std::string_view text);
  friend auto operator<=>(const large_community&, const large_community&) = default;
};

// RFC 4360: 8 octets, kept raw; helpers read the kinds Herald uses.
struct extended_community {
  std::array<std::uint8_t, 8> raw{};
  std::uint8_t type() const { return raw[0]; }
  std::uint8_t subtype() const { return raw[1]; }
  bool transitive() const { return (raw[0] & 0x40) == 0; }
  friend auto operator<=>(const extended_community&, const extended_community&) = default;
};

// draft-ietf-idr-link-bandwidth: type 0x00 (transitive, as FRR and Cisco send
// it) or 0x40 (non-transitive, as the draft says), sub-type 0x04, a 2-octet
// AS and an IEEE 754 float of bytes per second.
struct link_bandwidth {
  std::uint16_t asn = 0;
  float bytes_per_second = 0;
  bool transitive = false;
};
extended_community make_link_bandwidth(const link_bandwidth& lb);
std::optional<link_bandwidth> as_link_bandwidth(const extended_community& ec);

}  // namespace herald::bgp::wire
