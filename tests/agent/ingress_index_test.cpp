// Unit tests of the fast path's Service address index (agent/ingress_index.hpp):
// host prefixes and aggregates of both families, the asking Service itself
// left out, addresses shared by two Services, and every informer change (add,
// update, delete, an update that moves an address, a delete whose last state
// lost the address) reflected, checked against a scan of every Service (what
// the index replaced) over a list of cases.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "agent/ingress_index.hpp"

using namespace herald;
using namespace herald::agent;

namespace {

kube::service service(std::string name, std::vector<std::string> ips, std::string ns = "default") {
  kube::service s;
  s.meta.ns = std::move(ns);
  s.meta.name = std::move(name);
  for (auto& ip : ips) s.ingress.push_back({ip, "", "VIP", {}});
  return s;
}

bgp::wire::ip_prefix pfx(const char* text) { return *bgp::wire::ip_prefix::parse(text); }

// The definition the index must agree with: any other Service's ingress
// address inside p.
bool scan(const std::map<std::string, kube::service>& services, const bgp::wire::ip_prefix& p,
          const kube::service& self) {
  for (const auto& [key, s] : services) {
    if (key == self.meta.key()) continue;
    for (const auto& in : s.ingress) {
      auto a = bgp::wire::ip_address::parse(in.ip);
      if (!a || a->family != p.addr.family) continue;
      auto net = [&](bgp::wire::ip_address x) {
        std::size_t bits = p.length;
        for (auto& o : x.octets) {
          o &= static_cast<std::uint8_t>(bits >= 8 ? 0xff : 0xff << (8 - bits));
          bits = bits >= 8 ? bits - 8 : 0;
        }
        return x;
      };
      if (net(*a) == net(p.addr)) return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("ingress index: another Service's address in a prefix, the asking one left out") {
  ingress_index idx;
  auto web = service("web", {"203.0.113.10", "2001:db8:1::10"});
  auto api = service("api", {"203.0.113.20"});
  auto named = service("named", {"lb.example.com"});  // a hostname ingress: not an address
  for (auto* s : {&web, &api, &named}) idx.update(nullptr, s);
  CHECK(idx.size() == 3);

  CHECK_FALSE(idx.other_service_in(pfx("203.0.113.10/32"), web));  // its own
  CHECK(idx.other_service_in(pfx("203.0.113.10/32"), api));
  CHECK(idx.other_service_in(pfx("203.0.113.0/24"), web));  // the aggregate holds api's .20
  CHECK_FALSE(idx.other_service_in(pfx("203.0.113.0/28"), web));  // .0-.15: web's .10 only
  CHECK(idx.other_service_in(pfx("203.0.113.16/28"), web));        // .16-.31: api's .20
  CHECK_FALSE(idx.other_service_in(pfx("203.0.113.21/32"), web));
  CHECK_FALSE(idx.other_service_in(pfx("2001:db8:1::10/128"), web));
  CHECK(idx.other_service_in(pfx("2001:db8:1::10/128"), api));
  CHECK(idx.other_service_in(pfx("2001:db8::/32"), api));
  CHECK_FALSE(idx.other_service_in(pfx("2001:db8:2::/48"), api));
  CHECK(idx.other_service_in(pfx("0.0.0.0/0"), api));  // web's .10
  // The families do not mix: an IPv4 prefix never covers an IPv6 address.
  auto only_v6 = service("v6", {"2001:db8:1::10"});
  ingress_index v6_only;
  v6_only.update(nullptr, &only_v6);
  CHECK_FALSE(v6_only.other_service_in(pfx("0.0.0.0/0"), web));
  CHECK(v6_only.other_service_in(pfx("::/0"), web));
  // The same name in another namespace is another Service.
  auto web_elsewhere = service("web", {"203.0.113.10"}, "shop");
  CHECK(idx.other_service_in(pfx("203.0.113.10/32"), web_elsewhere));
}

TEST_CASE("ingress index: an address shared by two Services, and changes of every kind") {
  ingress_index idx;
  auto a = service("a", {"198.51.100.5"});
  auto b = service("b", {"198.51.100.5"});  // allow-shared: the same address
  idx.update(nullptr, &a);
  idx.update(nullptr, &b);
  CHECK(idx.other_service_in(pfx("198.51.100.5/32"), a));
  CHECK(idx.other_service_in(pfx("198.51.100.5/32"), b));

  // b moves to another address: a is alone on .5, b on .6.
  auto b_moved = service("b", {"198.51.100.6"});
  idx.update(&b, &b_moved);
  CHECK_FALSE(idx.other_service_in(pfx("198.51.100.5/32"), a));
  CHECK(idx.other_service_in(pfx("198.51.100.6/32"), a));
  CHECK(idx.size() == 2);

  // An update that keeps the address (an annotation written) changes nothing.
  auto a_again = a;
  a_again.meta.annotations["herald.dev/announcing-IPv4"] = "node-0";
  idx.update(&a, &a_again);
  CHECK(idx.size() == 2);
  CHECK(idx.other_service_in(pfx("198.51.100.5/32"), b_moved));

  // Deleted: gone from every answer.
  idx.update(&b_moved, nullptr);
  CHECK_FALSE(idx.other_service_in(pfx("198.51.100.0/24"), a));
  idx.update(&a_again, nullptr);
  CHECK(idx.size() == 0);

  // A delete whose last state no longer lists the address (it need not be
  // the cached one) still lets it go, by the Service's name; an address
  // listed twice is indexed once.
  auto c = service("c", {"198.51.100.7", "198.51.100.7"});
  idx.update(nullptr, &c);
  CHECK(idx.size() == 1);
  auto c_last = service("c", {});
  idx.update(&c_last, nullptr);
  CHECK(idx.size() == 0);
  CHECK_FALSE(idx.other_service_in(pfx("198.51.100.7/32"), a));

  // An add of a Service already held replaces its addresses.
  idx.update(nullptr, &c);
  auto c_moved = service("c", {"198.51.100.8"});
  idx.update(nullptr, &c_moved);
  CHECK(idx.size() == 1);
  CHECK_FALSE(idx.other_service_in(pfx("198.51.100.7/32"), a));
  CHECK(idx.other_service_in(pfx("198.51.100.8/32"), a));
}

TEST_CASE("ingress index: agrees with a scan of every Service through a sequence of changes") {
  // Services appear, move, gain a second family, share and disappear; after
  // each change every question is asked of both.
  struct step {
    std::string name;
    std::vector<std::string> ips;  // empty with gone: deleted
    bool gone = false;
  };
  const std::vector<step> steps = {
      {"a", {"192.0.2.1"}},
      {"b", {"192.0.2.2", "2001:db8::2"}},
      {"c", {"192.0.2.1"}},  // shares a's
      {"a", {"192.0.2.130"}},  // moves to the other half of the /24
      {"d", {"2001:db8::ff:1"}},
      {"c", {}, true},
      {"b", {"2001:db8::2"}},  // drops its IPv4 address
      {"e", {"192.0.2.2", "not-an-address"}},
      {"a", {}, true},
  };
  const std::vector<const char*> prefixes = {"192.0.2.1/32", "192.0.2.2/32",   "192.0.2.130/32", "192.0.2.0/25",
                                             "192.0.2.128/25", "192.0.2.0/24", "2001:db8::2/128", "2001:db8::/64",
                                             "2001:db8::ff:0/112", "198.51.100.0/24"};
  const std::vector<std::string> askers = {"a", "b", "c", "d", "e", "z"};
  REQUIRE_FALSE(steps.empty());
  REQUIRE_FALSE(prefixes.empty());
  ingress_index idx;
  std::map<std::string, kube::service> services;
  std::size_t questions = 0;
  for (const auto& st : steps) {
    auto key = "default/" + st.name;
    auto it = services.find(key);
    const kube::service* before = it == services.end() ? nullptr : &it->second;
    if (st.gone) {
      REQUIRE(before);
      idx.update(before, nullptr);
      services.erase(it);
    } else {
      auto after = service(st.name, st.ips);
      idx.update(before, &after);
      services[key] = after;
    }
    for (const auto* p : prefixes)
      for (const auto& asker : askers) {
        INFO("after " << (st.gone ? "deleting " : "setting ") << st.name << ": " << p << " asked by " << asker);
        auto self = service(asker, {});
        CHECK(idx.other_service_in(pfx(p), self) == scan(services, pfx(p), self));
        ++questions;
      }
  }
  CHECK(questions == steps.size() * prefixes.size() * askers.size());
}
