// Address and pool arithmetic for the allocator (pure: no I/O, no clock).
// IPv4 and IPv6 addresses are one value type holding a 128-bit integer, so
// ranges, sizes and "the n-th address" are plain integer arithmetic. Pools are
// inclusive ranges [first, last] written as a CIDR ("192.0.2.0/24", RFC 4632)
// or as "a-b". Text forms follow RFC 4291 §2.2 / RFC 5952 (via inet_pton /
// inet_ntop).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "herald/result.hpp"

namespace herald::allocator {

// unsigned __int128 is a GCC/Clang extension; __extension__ keeps -Wpedantic quiet.
__extension__ typedef unsigned __int128 u128;

enum class ip_family : std::uint8_t { v4 = 0, v6 = 1 };

// "IPv4" / "IPv6", the spellings of Service.spec.ipFamilies.
std::string_view family_name(ip_family f);
// Address bits: 32 or 128.
constexpr unsigned max_length(ip_family f) {
  return f == ip_family::v4 ? 32 : 128;
}
// The largest address value of a family (2^32-1 or 2^128-1).
constexpr u128 max_value(ip_family f) {
  return f == ip_family::v4 ? u128{0xffffffffu} : ~u128{0};
}

struct ip_address {
  ip_family family = ip_family::v4;
  u128 value = 0;  // IPv4 in the low 32 bits

  // Strict text forms only ("192.0.2.1", "2001:db8::1"); nullopt otherwise.
  static std::optional<ip_address> parse(std::string_view text);
  std::string to_string() const;

  friend bool operator==(const ip_address&, const ip_address&) = default;
  friend std::strong_ordering operator<=>(const ip_address& a, const ip_address& b) {
    if (a.family != b.family) return a.family <=> b.family;
    return a.value == b.value  ? std::strong_ordering::equal
           : a.value < b.value ? std::strong_ordering::less
                               : std::strong_ordering::greater;
  }
};

// "text" in double quotes, for error messages.
std::string in_quotes(std::string_view text);

// Decimal text of a 128-bit count (no printf for __int128).
std::string to_decimal(u128 v);

// An inclusive range of addresses of one family; first <= last always.
struct address_range {
  ip_address first;
  ip_address last;

  ip_family family() const { return first.family; }
  // Number of addresses minus one: fits even for ::/0 (2^128 addresses).
  u128 size_minus_one() const { return last.value - first.value; }
  // Number of addresses, saturated at 2^128-1 (only ::/0 saturates).
  u128 size() const;
  // Exact decimal size, "340282366920938463463374607431768211456" for ::/0.
  std::string size_string() const;
  // Size as a floating-point number (metrics).
  double size_double() const;
  bool contains(const ip_address& a) const {
    return a.family == first.family && a.value >= first.value && a.value <= last.value;
  }
  bool contains(const address_range& r) const { return contains(r.first) && contains(r.last); }
  bool overlaps(const address_range& r) const {
    return r.family() == family() && r.first.value <= last.value && first.value <= r.last.value;
  }
  // The n-th address (0 = first); nullopt past the end.
  std::optional<ip_address> nth(u128 n) const;
  // "first-last", or the CIDR when the range is exactly one prefix.
  std::string to_string() const;

  friend bool operator==(const address_range&, const address_range&) = default;
};

// A prefix: base address with no host bits set, and a length 0..32 / 0..128.
struct cidr {
  ip_address base;
  unsigned length = 0;

  address_range range() const;
  std::string to_string() const;
  friend bool operator==(const cidr&, const cidr&) = default;
};

// "192.0.2.0/24". Errors say what is wrong: not an address, length out of
// range, host bits set ("did you mean 192.0.2.0/24?").
Result<cidr, std::string> parse_cidr(std::string_view text);
// A pool: a CIDR, or "a-b" (spaces around '-' allowed) with a <= b and both of
// one family. Errors name the problem (backwards, mixed families, ...).
Result<address_range, std::string> parse_pool(std::string_view text);
// Whether a range is exactly one prefix; its length if so.
std::optional<unsigned> prefix_length_of(const address_range& r);

}  // namespace herald::allocator

template <>
struct std::hash<herald::allocator::ip_address> {
  std::size_t operator()(const herald::allocator::ip_address& a) const noexcept {
    auto lo = static_cast<std::uint64_t>(a.value);
    auto hi = static_cast<std::uint64_t>(a.value >> 64);
    std::uint64_t h = lo * 0x9e3779b97f4a7c15ull ^ (hi + static_cast<std::uint64_t>(a.family) + 0x7f4a7c15ull);
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};
