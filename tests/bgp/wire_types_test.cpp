// Value types: address and prefix text, communities, link bandwidth.
#include <catch2/catch.hpp>

#include <vector>

#include "wire_test_util.hpp"

#include "bgp/wire/types.hpp"

using namespace herald::bgp::wire;

TEST_CASE("addresses and prefixes parse and print") {
  auto a = ip_address::parse("192.0.2.1");
  REQUIRE(a);
  CHECK(a->is_v4());
  CHECK(a->v4_host_order() == 0xC0000201);
  CHECK(a->to_string() == "192.0.2.1");
  auto b = ip_address::parse("2001:db8::1");
  REQUIRE(b);
  CHECK(!b->is_v4());
  CHECK(b->to_string() == "2001:db8::1");
  CHECK(ip_address::parse("fe80::1")->is_v6_link_local());
  CHECK_FALSE(ip_address::parse("192.0.2.256"));
  CHECK_FALSE(ip_address::parse("not an address"));

  auto p = ip_prefix::parse("198.51.100.0/24");
  REQUIRE(p);
  CHECK(p->length == 24);
  CHECK(p->to_string() == "198.51.100.0/24");
  CHECK(ip_prefix::parse("2001:db8::/32")->length == 32);
  CHECK(ip_prefix::parse("203.0.113.7")->length == 32);
  CHECK_FALSE(ip_prefix::parse("198.51.100.1/24"));  // host bits set
  CHECK_FALSE(ip_prefix::parse("198.51.100.0/33"));
  CHECK_FALSE(ip_prefix::parse("2001:db8::/129"));
  CHECK_FALSE(ip_prefix::parse("198.51.100.0/"));
}

TEST_CASE("a prefix's first and last address, and what it covers") {
  struct row {
    const char *prefix, *first, *last;
  };
  const std::vector<row> rows = {
      {"203.0.113.0/24", "203.0.113.0", "203.0.113.255"}, {"203.0.113.16/28", "203.0.113.16", "203.0.113.31"},
      {"203.0.113.7/32", "203.0.113.7", "203.0.113.7"},   {"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
      {"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
      {"2001:db8::ff:0/112", "2001:db8::ff:0", "2001:db8::ff:ffff"},
      {"2001:db8::1/128", "2001:db8::1", "2001:db8::1"},
  };
  REQUIRE_FALSE(rows.empty());
  for (const auto& r : rows) {
    INFO(r.prefix);
    auto p = *ip_prefix::parse(r.prefix);
    CHECK(p.first().to_string() == r.first);
    CHECK(p.last().to_string() == r.last);
    CHECK(p.covers(p.first()));
    CHECK(p.covers(p.last()));
  }
  auto p = *ip_prefix::parse("203.0.113.16/28");
  CHECK_FALSE(p.covers(*ip_address::parse("203.0.113.15")));
  CHECK_FALSE(p.covers(*ip_address::parse("203.0.113.32")));
  // The families never mix, not even at /0.
  CHECK_FALSE(ip_prefix::parse("0.0.0.0/0")->covers(*ip_address::parse("2001:db8::1")));
  CHECK_FALSE(ip_prefix::parse("::/0")->covers(*ip_address::parse("192.0.2.1")));
  CHECK(ip_prefix::parse("::/0")->covers(*ip_address::parse("2001:db8::1")));
}

TEST_CASE("communities have RFC names and parse back") {
  CHECK(community::to_string(community::graceful_shutdown) == "GRACEFUL_SHUTDOWN");
  CHECK(community::to_string(community::no_export) == "NO_EXPORT");
  CHECK(community::to_string(0xFDE90064) == "65001:100");
  CHECK(community::parse("65001:100") == 0xFDE90064u);
  CHECK(community::parse("GRACEFUL_SHUTDOWN") == 0xFFFF0000u);
  CHECK(community::parse("65535:0") == community::graceful_shutdown);
  CHECK_FALSE(community::parse("65536:0"));
  CHECK_FALSE(community::parse("1:2:3"));
  auto l = large_community::parse("4200000000:1:2");
  REQUIRE(l);
  CHECK(l->global_admin == 4200000000u);
  CHECK(l->to_string() == "4200000000:1:2");
  CHECK_FALSE(large_community::parse("1:2"));
}

TEST_CASE("link bandwidth community in both forms") {
  for (bool transitive : {true, false}) {
    auto ec = make_link_bandwidth({65001, 1.25e9f, transitive});
    CHECK(ec.raw[0] == (transitive ? 0x00 : 0x40));
    CHECK(ec.raw[1] == 0x04);
    CHECK(ec.transitive() == transitive);
    auto lb = as_link_bandwidth(ec);
    REQUIRE(lb);
    CHECK(lb->asn == 65001);
    CHECK(lb->bytes_per_second == 1.25e9f);
    CHECK(lb->transitive == transitive);
  }
  // 1,000 bytes/s is 0x447A0000 as an IEEE single.
  auto ec = make_link_bandwidth({100, 1000.0f, false});
  CHECK(ec.raw == std::array<std::uint8_t, 8>{0x40, 0x04, 0x00, 0x64, 0x44, 0x7a, 0x00, 0x00});
  extended_community route_target{{0x00, 0x02, 0, 1, 0, 0, 0, 1}};
  CHECK_FALSE(as_link_bandwidth(route_target));
}
