// Pool arithmetic: parsing and formatting, CIDRs and a-b ranges for IPv4 and
// IPv6, containment, size, overlap, n-th address, and the edge lengths
// /0, /32 and /128.
#include <catch2/catch.hpp>

#include "allocator/address.hpp"
#include "result_catch.hpp"

using namespace herald::allocator;

namespace {
ip_address ip(const char* s) {
  auto a = ip_address::parse(s);
  REQUIRE(a);
  return *a;
}
address_range pool(const char* s) {
  auto r = parse_pool(s);
  REQUIRE(r);
  return *r;
}
std::string pool_error(const char* s) {
  auto r = parse_pool(s);
  REQUIRE_FALSE(r);
  return r.error();
}
}  // namespace

TEST_CASE("addresses parse strictly and print canonically") {
  CHECK(ip("192.0.2.1").family == ip_family::v4);
  CHECK(ip("192.0.2.1").value == 0xc0000201u);
  CHECK(ip("2001:DB8:0:0::1").to_string() == "2001:db8::1");
  CHECK(ip("::").value == 0);
  CHECK(ip("0.0.0.0").to_string() == "0.0.0.0");
  CHECK(ip("255.255.255.255").to_string() == "255.255.255.255");
  CHECK(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").value == ~u128{0});
  for (const char* bad : {"", "192.0.2", "192.0.2.256", "192.0.2.1 ", "2001:db8::1::2", "hello", "01.2.3.4x", "::g"})
    CHECK_FALSE(ip_address::parse(bad));
  CHECK(ip("192.0.2.1") < ip("192.0.2.2"));
  CHECK(ip("255.255.255.255") < ip("::"));  // families order IPv4 first
}

TEST_CASE("CIDR pools: size, containment, n-th address") {
  auto r = pool("192.0.2.0/24");
  CHECK(r.size() == 256);
  CHECK(r.size_string() == "256");
  CHECK(r.contains(ip("192.0.2.0")));
  CHECK(r.contains(ip("192.0.2.255")));
  CHECK_FALSE(r.contains(ip("192.0.3.0")));
  CHECK_FALSE(r.contains(ip("::c000:201")));  // same value, other family
  CHECK(r.nth(0)->to_string() == "192.0.2.0");
  CHECK(r.nth(255)->to_string() == "192.0.2.255");
  CHECK_FALSE(r.nth(256));
  CHECK(r.to_string() == "192.0.2.0/24");

  auto v6 = pool("2001:db8::/112");
  CHECK(v6.size() == 65536);
  CHECK(v6.nth(65535)->to_string() == "2001:db8::ffff");
  CHECK_FALSE(v6.nth(65536));
}

TEST_CASE("edge lengths /0, /32, /128") {
  auto all4 = pool("0.0.0.0/0");
  CHECK(all4.size() == (u128{1} << 32));
  CHECK(all4.last.to_string() == "255.255.255.255");
  auto one4 = pool("192.0.2.7/32");
  CHECK(one4.size() == 1);
  CHECK(one4.first == one4.last);
  CHECK(one4.to_string() == "192.0.2.7/32");
  auto one6 = pool("2001:db8::7/128");
  CHECK(one6.size() == 1);
  CHECK_FALSE(one6.nth(1));
  auto all6 = pool("::/0");
  CHECK(all6.size_minus_one() == ~u128{0});
  CHECK(all6.size() == ~u128{0});  // saturates: 2^128 does not fit
  CHECK(all6.size_string() == "340282366920938463463374607431768211456");
  CHECK(all6.size_double() == Approx(3.402823669209385e38));
  CHECK(all6.nth(~u128{0})->to_string() == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  CHECK(all6.to_string() == "::/0");
  CHECK(pool("2001:db8::/64").size_string() == "18446744073709551616");
}

TEST_CASE("a-b ranges") {
  auto r = pool("192.0.2.10-192.0.2.20");
  CHECK(r.size() == 11);
  CHECK(r.to_string() == "192.0.2.10-192.0.2.20");
  CHECK(pool(" 192.0.2.10 - 192.0.2.10 ").size() == 1);
  CHECK(pool("2001:db8::1-2001:db8::ff").size() == 255);
  CHECK(pool("192.0.2.0-192.0.2.255").to_string() == "192.0.2.0/24");  // exactly a prefix
  CHECK(pool_error("192.0.2.20-192.0.2.10").find("backwards") != std::string::npos);
  CHECK(pool_error("192.0.2.1-2001:db8::1").find("mixes IPv4 and IPv6") != std::string::npos);
  CHECK(pool_error("192.0.2.1-banana").find("\"banana\" is not an IP address") != std::string::npos);
  CHECK(pool_error("192.0.2.1").find("neither a CIDR") != std::string::npos);
}

TEST_CASE("bad CIDRs say what is wrong") {
  CHECK(pool_error("192.0.2.5/24") == "\"192.0.2.5/24\" has host bits set (did you mean 192.0.2.0/24?)");
  CHECK(pool_error("192.0.2.0/33").find("longer than 32") != std::string::npos);
  CHECK(pool_error("2001:db8::/129").find("longer than 128") != std::string::npos);
  CHECK(pool_error("192.0.2.0/").find("is not a number") != std::string::npos);
  CHECK(pool_error("192.0.2.0/x4").find("is not a number") != std::string::npos);
  CHECK(pool_error("192.0.2/24").find("is not an IP address") != std::string::npos);
  CHECK(parse_cidr("2001:db8::/32")->range().last.to_string() == "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST_CASE("overlap and containment between ranges") {
  auto a = pool("192.0.2.0/25");
  auto b = pool("192.0.2.128/25");
  auto c = pool("192.0.2.100-192.0.2.130");
  CHECK_FALSE(a.overlaps(b));
  CHECK(a.overlaps(c));
  CHECK(b.overlaps(c));
  CHECK(pool("192.0.2.0/24").contains(a));
  CHECK_FALSE(a.contains(c));
  CHECK_FALSE(pool("0.0.0.0/0").overlaps(pool("::/0")));  // families never overlap
  CHECK(pool("::/0").overlaps(pool("2001:db8::1/128")));
  CHECK(prefix_length_of(pool("2001:db8::/112")) == 112u);
  CHECK_FALSE(prefix_length_of(pool("192.0.2.1-192.0.2.2")));
}

TEST_CASE("decimal text of 128-bit counts") {
  CHECK(to_decimal(0) == "0");
  CHECK(to_decimal(~u128{0}) == "340282366920938463463374607431768211455");
}
