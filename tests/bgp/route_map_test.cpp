// route_map (bgp/route_map.hpp): the compact prefix table against a
// std::map model under random inserts, replacements and erases, its
// attribute reference counting, and the slot walk used by the full sync.
#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "bgp/route_map.hpp"

using namespace herald::bgp;
using herald::bgp::wire::afi;
using herald::bgp::wire::ip_prefix;

namespace {
ip_prefix nth(std::uint32_t n, bool v6) {
  ip_prefix p;
  p.addr.family = v6 ? afi::ipv6 : afi::ipv4;
  p.length = v6 ? 128 : 32;
  auto* o = p.addr.octets.data();
  if (v6) {
    o[0] = 0x20, o[1] = 0x01, o[2] = 0x0d, o[3] = 0xb8;
    o += 12;
  }
  o[0] = static_cast<std::uint8_t>(n >> 24), o[1] = static_cast<std::uint8_t>(n >> 16);
  o[2] = static_cast<std::uint8_t>(n >> 8), o[3] = static_cast<std::uint8_t>(n);
  return p;
}
attrs_ref attrs(std::uint32_t med) {
  route_attrs a;
  a.med = med;
  return std::make_shared<const route_attrs>(a);
}
}  // namespace

TEST_CASE("route_map agrees with std::map under random changes") {
  std::mt19937 rng(7);
  std::vector<attrs_ref> sets{attrs(1), attrs(2), attrs(3)};
  std::map<ip_prefix, attrs_ref> model;
  route_map m;
  for (int step = 0; step < 200000; ++step) {
    auto p = nth(rng() % 5000, rng() % 2);
    switch (rng() % 3) {
      case 0:
      case 1: {
        auto& a = sets[rng() % sets.size()];
        model[p] = a;
        m.set(p, a);
        break;
      }
      case 2:
        CHECK(m.erase(p) == (model.erase(p) == 1));
        break;
    }
  }
  REQUIRE(!model.empty());
  CHECK(m.size() == model.size());
  std::size_t v4 = 0;
  for (auto& [p, a] : model) {
    const attrs_ref* got = m.find(p);
    REQUIRE(got);
    CHECK(*got == a);
    v4 += p.addr.is_v4();
  }
  CHECK(m.count(afi::ipv4) == v4);
  CHECK(m.count(afi::ipv6) == model.size() - v4);
  std::size_t walked = 0;
  for (auto [p, a] : m) {
    CHECK(model.at(p) == a);
    ++walked;
  }
  CHECK(walked == model.size());
}

TEST_CASE("route_map keeps an attribute set alive exactly while a route uses it") {
  route_map m;
  auto a = attrs(10), b = attrs(20);
  m.set(nth(1, false), a);
  m.set(nth(2, false), a);
  CHECK(a.use_count() == 2);  // the test's and the map's one shared copy
  m.set(nth(1, false), b);
  CHECK(a.use_count() == 2);
  m.erase(nth(2, false));
  CHECK(a.use_count() == 1);
  m.clear();
  CHECK(b.use_count() == 1);
  CHECK(m.empty());
  CHECK(m.find(nth(1, false)) == nullptr);
}

TEST_CASE("route_map walks by position see every route once while the layout holds") {
  route_map m;
  m.reserve(3000);
  auto a = attrs(1);
  for (std::uint32_t n = 0; n < 3000; ++n) m.set(nth(n, true), a);
  auto layout = m.layout_generation();
  std::size_t seen = 0;
  for (std::size_t from = 0; from < m.slot_count(); from += 100)
    m.for_each_in_slots(from, from + 100, [&](const ip_prefix&, const attrs_ref& x) {
      CHECK(x == a);
      ++seen;
    });
  CHECK(seen == 3000);
  // Growing and erasing a few leave entries where they are.
  for (std::uint32_t n = 3000; n < 9000; ++n) m.set(nth(n, true), a);
  for (std::uint32_t n = 0; n < 1000; ++n) m.erase(nth(n, true));
  CHECK(m.layout_generation() == layout);
  // Insertion order is iteration order.
  std::uint32_t want = 1000;
  for (auto [p, x] : m) CHECK(p == nth(want++, true));
  // Erasing most compacts, and says so.
  for (std::uint32_t n = 1000; n < 6000; ++n) m.erase(nth(n, true));
  CHECK(m.layout_generation() != layout);
  CHECK(m.size() == 3000);
  CHECK(m.slot_count() < 9000);
  CHECK(std::distance(m.begin(), m.end()) == 3000);
  for (std::uint32_t n = 6000; n < 9000; ++n) CHECK(m.contains(nth(n, true)));
}

TEST_CASE("route_map edge prefixes: /0 and host routes of both families") {
  route_map m;
  ip_prefix any4, any6;
  any6.addr.family = afi::ipv6;
  auto a = attrs(5);
  m.set(any4, a);
  m.set(any6, a);
  m.set(nth(0, false), a);
  CHECK(m.size() == 3);
  CHECK(m.contains(any4));
  CHECK(m.contains(any6));
  CHECK(m.erase(any4));
  CHECK(!m.contains(any4));
  CHECK(m.contains(any6));
}
