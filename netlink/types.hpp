// Plain values the netlink layer takes and returns: links, interface
// addresses (RFC 4291 / RFC 1122 prefix lengths, rtnetlink(7) address flags
// and lifetimes), subnets, and the validation of untrusted input (link names
// from configuration, addresses from the API) before anything reaches the
// kernel.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/error.hpp"

namespace herald::netlink {

using ip_address = boost::asio::ip::address;

enum class family { ipv4, ipv6 };
const char* to_string(family f);
inline family family_of(const ip_address& a) { return a.is_v4() ? family::ipv4 : family::ipv6; }
inline std::uint8_t max_prefix_len(family f) { return f == family::ipv4 ? 32 : 128; }

// The kernel's "forever" for address lifetimes (ifa_cacheinfo, INFINITY_LIFE_TIME).
inline constexpr std::uint32_t infinite_lifetime = 0xFFFFFFFFu;

// The address protocol (IFA_PROTO, Linux 5.18) Herald stamps on its own
// addresses, so that a restarted agent recognises them. 0-3 are the kernel's
// (IFAPROT_*); 72 is 'H'. Configurable through rtnl_options.
inline constexpr std::uint8_t default_owner_protocol = 72;

struct link_info {
  int index = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND ("bridge", "veth", "dummy"), empty for physical NICs
  bool up = false;   // IFF_UP (administrative state)
  // IFF_MULTICAST: every IPv6 address on such a link also joins its
  // solicited-node group (MLD work per address); a dummy has it off.
  bool multicast = false;
  std::vector<std::uint8_t> hwaddr;  // IFLA_ADDRESS; 6 bytes on Ethernet
};

// An address Herald wants on a link.
struct address_spec {
  ip_address address;
  std::uint8_t prefix_len = 0;
  bool noprefixroute = false;  // IFA_F_NOPREFIXROUTE: no subnet route for the prefix
  bool nodad = false;          // IFA_F_NODAD, IPv6 only: usable at once, no DAD
  std::uint32_t valid_lifetime = infinite_lifetime;      // seconds
  std::uint32_t preferred_lifetime = infinite_lifetime;  // seconds, <= valid

  // "192.0.2.10/32" or "2001:db8::1/128"; the prefix length is required.
  static nl_result<address_spec> parse(std::string_view cidr);
  std::string to_string() const;  // "192.0.2.10/32"
  bool finite() const { return valid_lifetime != infinite_lifetime || preferred_lifetime != infinite_lifetime; }
};

// An address as the kernel reports it (RTM_NEWADDR).
struct address_info {
  int ifindex = 0;
  ip_address address;
  std::uint8_t prefix_len = 0;
  std::uint32_t flags = 0;    // IFA_F_*
  std::uint8_t protocol = 0;  // IFA_PROTO, 0 if absent
  std::string label;          // IFA_LABEL (IPv4 only)
  std::uint32_t valid_lifetime = infinite_lifetime;
  std::uint32_t preferred_lifetime = infinite_lifetime;

  std::string to_string() const;
};

// A subnet configured on an interface: the network address and its length.
struct subnet {
  ip_address network;
  std::uint8_t prefix_len = 0;

  bool contains(const ip_address& a) const;
  std::string to_string() const;
  bool operator==(const subnet&) const = default;
};

// The network containing `a` under `len` (host bits cleared).
ip_address network_of(const ip_address& a, std::uint8_t len);
std::string to_cidr(const ip_address& a, std::uint8_t len);

// Linux's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or
// whitespace. Fails with errc::invalid_argument naming the problem.
nl_result<void> validate_link_name(std::string_view name);

// Checks a spec before it is sent: prefix length within the family, nodad
// only for IPv6, lifetimes consistent (preferred <= valid, valid > 0), and no
// unspecified, multicast or loopback address. `link` is for the message.
nl_result<void> validate(const address_spec& spec, std::string_view link);

}  // namespace herald::netlink
