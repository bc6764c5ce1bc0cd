// Address and pool arithmetic: parsing and formatting through inet_pton /
// inet_ntop (RFC 4291 §2.2, RFC 5952 output), prefixes (RFC 4632), ranges.
#include "allocator/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace herald::allocator {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Host-bit mask of a prefix length: the low (bits - length) bits set.
u128 host_mask(ip_family f, unsigned length) {
  unsigned host_bits = max_length(f) - length;
  return host_bits >= 128 ? ~u128{0} : (u128{1} << host_bits) - 1;
}

}  // namespace

std::string_view family_name(ip_family f) {
  return f == ip_family::v4 ? "IPv4" : "IPv6";
}

std::optional<ip_address> ip_address::parse(std::string_view text) {
  // inet_pton needs a terminated string; the longest IPv6 text is 45 chars.
  std::array<char, 64> buf{};
  if (text.empty() || text.size() >= buf.size()) return std::nullopt;
  std::copy(text.begin(), text.end(), buf.begin());
  if (text.find(':') == std::string_view::npos) {
    std::array<unsigned char, 4> b{};
    if (inet_pton(AF_INET, buf.data(), b.data()) != 1) return std::nullopt;
    u128 v = (u128{b[0]} << 24) | (u128{b[1]} << 16) | (u128{b[2]} << 8) | u128{b[3]};
    return ip_address{ip_family::v4, v};
  }
  std::array<unsigned char, 16> b{};
  if (inet_pton(AF_INET6, buf.data(), b.data()) != 1) return std::nullopt;
  u128 v = 0;
  for (auto octet : b) v = (v << 8) | octet;
  return ip_address{ip_family::v6, v};
}

std::string ip_address::to_string() const {
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (family == ip_family::v4) {
    std::array<unsigned char, 4> b{};
    for (int i = 0; i < 4; ++i) b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(value >> (24 - 8 * i));
    inet_ntop(AF_INET, b.data(), out.data(), out.size());
  } else {
    std::array<unsigned char, 16> b{};
    for (int i = 0; i < 16; ++i) b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(value >> (120 - 8 * i));
    inet_ntop(AF_INET6, b.data(), out.data(), out.size());
  }
  return out.data();
}

std::string in_quotes(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

std::string to_decimal(u128 v) {
  if (v == 0) return "0";
  std::string s;
  while (v != 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  std::reverse(s.begin(), s.end());
  return s;
}

u128 address_range::size() const {
  u128 m = size_minus_one();
  return m == ~u128{0} ? m : m + 1;
}

std::string address_range::size_string() const {
  if (size_minus_one() == ~u128{0}) return "340282366920938463463374607431768211456";
  return to_decimal(size());
}

double address_range::size_double() const {
  return static_cast<double>(size_minus_one()) + 1.0;
}

std::optional<ip_address> address_range::nth(u128 n) const {
  if (n > size_minus_one()) return std::nullopt;
  return ip_address{family(), first.value + n};
}

std::optional<unsigned> prefix_length_of(const address_range& r) {
  for (unsigned len = 0; len <= max_length(r.family()); ++len) {
    u128 mask = host_mask(r.family(), len);
    if ((r.first.value & mask) == 0 && r.last.value == (r.first.value | mask)) return len;
  }
  return std::nullopt;
}

std::string address_range::to_string() const {
  if (auto len = prefix_length_of(*this)) return first.to_string() + "/" + std::to_string(*len);
  return first.to_string() + "-" + last.to_string();
}

address_range cidr::range() const {
  return {base, ip_address{base.family, base.value | host_mask(base.family, length)}};
}

std::string cidr::to_string() const {
  return base.to_string() + "/" + std::to_string(length);
}

Result<cidr, std::string> parse_cidr(std::string_view text) {
  text = trim(text);
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return in_quotes(text) + " is not a CIDR (address/length)";
  auto addr = ip_address::parse(text.substr(0, slash));
  if (!addr) return in_quotes(text) + ": \"" + std::string(text.substr(0, slash)) + "\" is not an IP address";
  auto len_text = text.substr(slash + 1);
  unsigned len = 0;
  if (len_text.empty() || len_text.size() > 3 ||
      !std::all_of(len_text.begin(), len_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return in_quotes(text) + ": prefix length \"" + std::string(len_text) + "\" is not a number";
  for (char c : len_text) len = len * 10 + static_cast<unsigned>(c - '0');
  if (len > max_length(addr->family))
    return in_quotes(text) + ": prefix length " + std::to_string(len) + " is longer than " +
           std::to_string(max_length(addr->family));
  u128 mask = host_mask(addr->family, len);
  if ((addr->value & mask) != 0) {
    cidr fixed{ip_address{addr->family, addr->value & ~mask}, len};
    return in_quotes(text) + " has host bits set (did you mean " + fixed.to_string() + "?)";
  }
  return cidr{*addr, len};
}

Result<address_range, std::string> parse_pool(std::string_view text) {
  text = trim(text);
  if (text.find('/') != std::string_view::npos) {
    auto c = parse_cidr(text);
    if (!c) return c.error();
    return c->range();
  }
  auto dash = text.find('-');
  if (dash == std::string_view::npos)
    return in_quotes(text) + " is neither a CIDR (192.0.2.0/28) nor a range (192.0.2.10-192.0.2.20)";
  auto a_text = trim(text.substr(0, dash));
  auto b_text = trim(text.substr(dash + 1));
  auto a = ip_address::parse(a_text);
  auto b = ip_address::parse(b_text);
  if (!a) return "range \"" + std::string(text) + "\": \"" + std::string(a_text) + "\" is not an IP address";
  if (!b) return "range \"" + std::string(text) + "\": \"" + std::string(b_text) + "\" is not an IP address";
  if (a->family != b->family) return "range \"" + std::string(text) + "\" mixes IPv4 and IPv6";
  if (b->value < a->value) return "range \"" + std::string(text) + "\" is backwards (its start is after its end)";
  return address_range{*a, *b};
}

}  // namespace herald::allocator
