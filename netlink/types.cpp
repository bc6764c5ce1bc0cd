// Formatting, parsing and validation of the netlink layer's plain values.
// Validation mirrors the kernel's own checks (dev_valid_name() in
// net/core/dev.c, inet_rtm_newaddr / inet6_rtm_newaddr) so that bad input is
// refused with a clear message before anything is half-applied.
#include "netlink/types.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace herald::netlink {

const char* to_string(family f) { return f == family::ipv4 ? "IPv4" : "IPv6"; }

std::string to_cidr(const ip_address& a, std::uint8_t len) { return fmt::format("{}/{}", a.to_string(), len); }

std::string address_spec::to_string() const { return to_cidr(address, prefix_len); }
std::string address_info::to_string() const { return to_cidr(address, prefix_len); }
std::string subnet::to_string() const { return to_cidr(network, prefix_len); }

nl_result<address_spec> address_spec::parse(std::string_view cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string_view::npos)
    return make_error(errc::invalid_argument, fmt::format("address '{}' has no prefix length (want a/len)", cidr));
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string(cidr.substr(0, slash)), ec);
  if (ec) return make_error(errc::invalid_argument, fmt::format("address '{}' is not an IP address", cidr));
  auto len_text = cidr.substr(slash + 1);
  unsigned len = 0;
  auto [p, e] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (e != std::errc{} || p != len_text.data() + len_text.size() || len_text.empty() || len > 255)
    return make_error(errc::invalid_argument, fmt::format("address '{}' has a bad prefix length", cidr));
  address_spec s;
  s.address = addr;
  s.prefix_len = static_cast<std::uint8_t>(len);
  if (s.prefix_len > max_prefix_len(family_of(addr)))
    return make_error(errc::invalid_argument, fmt::format("address '{}': prefix length {} is too long for {}", cidr,
                                                          len, netlink::to_string(family_of(addr))));
  return s;
}

ip_address network_of(const ip_address& a, std::uint8_t len) {
  if (a.is_v4()) {
    auto v = a.to_v4().to_uint();
    std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - std::min<unsigned>(len, 32));
    return boost::asio::ip::address_v4(v & mask);
  }
  auto bytes = a.to_v6().to_bytes();
  for (unsigned i = 0; i < 16; ++i) {
    unsigned keep = len > i * 8 ? std::min(8u, len - i * 8) : 0;
    bytes[i] = static_cast<unsigned char>(bytes[i] & (keep == 0 ? 0 : 0xFF << (8 - keep)));
  }
  return boost::asio::ip::address_v6(bytes);
}

bool subnet::contains(const ip_address& a) const {
  return a.is_v4() == network.is_v4() && network_of(a, prefix_len) == network;
}

nl_result<void> validate_link_name(std::string_view name) {
  if (name.empty()) return make_error(errc::invalid_argument, "interface name is empty");
  if (name.size() > 15)
    return make_error(errc::invalid_argument,
                      fmt::format("interface name '{}' is {} bytes; Linux allows at most 15", name, name.size()));
  if (name == "." || name == "..")
    return make_error(errc::invalid_argument, fmt::format("interface name '{}' is reserved", name));
  auto bad = std::find_if(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || c == '\0' || std::isspace(static_cast<unsigned char>(c));
  });
  if (bad != name.end())
    return make_error(errc::invalid_argument,
                      fmt::format("interface name '{}' contains a character Linux refuses ('/', ':' or space)", name));
  return {};
}

nl_result<void> validate(const address_spec& spec, std::string_view link) {
  auto f = family_of(spec.address);
  // Formatted only for an error: every plan validates every address it
  // wants (10,000 at scale), and the fast path one per Service event.
  auto refuse = [&](std::string_view why) {
    return make_error(errc::invalid_argument, fmt::format("address {} on {}: {}", spec.to_string(), link, why));
  };
  if (spec.prefix_len > max_prefix_len(f))
    return refuse(fmt::format("prefix length {} is too long for an {} address", spec.prefix_len, to_string(f)));
  if (spec.nodad && f != family::ipv6) return refuse("nodad applies to IPv6 addresses only");
  if (spec.address.is_unspecified() || spec.address.is_multicast() || spec.address.is_loopback())
    return refuse("unspecified, multicast and loopback addresses are refused");
  if (spec.valid_lifetime == 0) return refuse("valid lifetime must be positive");
  if (spec.preferred_lifetime > spec.valid_lifetime)
    return refuse(fmt::format("preferred lifetime {}s exceeds valid lifetime {}s", spec.preferred_lifetime,
                              spec.valid_lifetime));
  return {};
}

}  // namespace herald::netlink
