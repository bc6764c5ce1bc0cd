// The allocation rules (docs/allocator.md), one section per rule: which
// Services are ours, groups, address choice and quarantine, exhaustion,
// requested addresses, sharing, dual stack, namespaces, release, rebuild,
// duplicates, pool edits, invalid groups, and the JSON edges.
#include <catch2/catch.hpp>

#include "allocator/allocator.hpp"
#include "result_catch.hpp"

using namespace herald::allocator;
using json = nlohmann::json;

namespace {

service_group_input group(const std::string& name, const std::string& spec,
                          const std::string& ts = "2026-01-01T00:00:00Z") {
  return {name, ts, json::parse(spec)};
}

std::string v4_remote(const std::string& pool, const std::string& subnet = "192.0.2.0/24") {
  return R"({"remote": {"v4pool": {"subnet": ")" + subnet + R"(", "pool": ")" + pool + R"("}}})";
}

const std::string dual = R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"},
                                        "v6pool": {"subnet": "2001:db8::/64", "pool": "2001:db8::/124"}}})";

int serial = 0;

service_view svc(const std::string& name, std::map<std::string, std::string> annotations = {}) {
  service_view v;
  v.ns = "default";
  v.name = name;
  v.uid = "uid-" + name;
  char ts[32];
  std::snprintf(ts, sizeof ts, "2026-01-01T00:%02d:%02dZ", serial / 60 % 60, serial % 60);
  ++serial;
  v.creation_timestamp = ts;
  v.type = "LoadBalancer";
  v.annotations = std::move(annotations);
  v.ports = {{"TCP", 80}};
  v.ip_families = {"IPv4"};
  return v;
}

// The view as the API server shows it after the controller applied `d`.
service_view applied(service_view v, const service_decision& d) {
  v.ingress_ips = d.ingress_ips;
  for (auto& [k, value] : d.annotations) {
    if (value)
      v.annotations[k] = *value;
    else
      v.annotations.erase(k);
  }
  return v;
}

bool has_event(const service_decision& d, const std::string& reason, const std::string& text = "") {
  for (auto& e : d.events)
    if (e.reason == reason && e.message.find(text) != std::string::npos) return true;
  return false;
}

std::string failure_of(const service_decision& d) {
  for (auto& e : d.events)
    if (e.reason == "AllocationFailed") return e.message;
  return "";
}

std::vector<std::string> ips(const allocator& a, const std::string& name) {
  std::vector<std::string> out;
  for (auto& ip : a.addresses_of("default", name)) out.push_back(ip.to_string());
  return out;
}

std::string one(const allocator& a, const std::string& name) {
  auto v = ips(a, name);
  REQUIRE(v.size() == 1);
  return v[0];
}

const service_decision& named(const std::vector<service_decision>& ds, const std::string& name) {
  for (auto& d : ds)
    if (d.name == name) return d;
  FAIL("no decision for " << name);
  return ds.front();
}

const group_status& status_of(const std::vector<group_status>& all, const std::string& name) {
  for (auto& s : all)
    if (s.name == name) return s;
  FAIL("no status for " << name);
  return all.front();
}

}  // namespace

TEST_CASE("a LoadBalancer Service gets the first address, status and annotations") {
  allocator a;
  a.apply_group(group("default", v4_remote("192.0.2.10-192.0.2.20")));
  auto ds = a.apply_service(svc("web"));
  REQUIRE(ds.size() == 1);
  auto& d = ds[0];
  CHECK(d.managed);
  CHECK(d.write);
  CHECK(d.ingress_ips == std::vector<std::string>{"192.0.2.10"});
  CHECK(d.annotations.at("herald.dev/allocated-by") == "herald");
  CHECK(d.annotations.at("herald.dev/allocated-from") == "default");
  CHECK(d.annotations.at("herald.dev/pool-type") == "remote");
  CHECK(has_event(d, "AddressAssigned", "assigned 192.0.2.10 from ServiceGroup default (remote)"));
  CHECK(status_patch(d) ==
        json::parse(R"({"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10", "ipMode": "VIP"}]}}})"));
  CHECK(annotations_patch(d)["metadata"]["annotations"]["herald.dev/pool-type"] == "remote");

  // Applying the same, already written view again changes nothing.
  auto again = a.apply_service(applied(svc("web"), d));
  CHECK_FALSE(again[0].write);
  CHECK(again[0].events.empty());
  CHECK(a.counters().assigned == 1);
}

TEST_CASE("only LoadBalancer Services of Herald's class (or none) are ours") {
  allocator a;
  a.apply_group(group("default", v4_remote("192.0.2.0/28")));
  auto cluster_ip = svc("c");
  cluster_ip.type = "ClusterIP";
  CHECK_FALSE(a.apply_service(cluster_ip)[0].managed);
  auto other = svc("o");
  other.load_balancer_class = "example.com/other";
  auto d = a.apply_service(other)[0];
  CHECK_FALSE(d.managed);
  CHECK_FALSE(d.write);
  auto mine = svc("m");
  mine.load_balancer_class = "herald.dev/lb";
  CHECK(a.apply_service(mine)[0].managed);

  allocator strict(allocator_config{"herald.dev/lb", false, "herald"});
  strict.apply_group(group("default", v4_remote("192.0.2.0/28")));
  CHECK_FALSE(strict.apply_service(svc("unset"))[0].managed);
  CHECK(strict.apply_service(mine)[0].managed);
}

TEST_CASE("address choice is next fit: a freed address waits until the others were used") {
  allocator a;
  a.apply_group(group("default", v4_remote("192.0.2.0/30")));
  for (auto n : {"a", "b", "c"}) a.apply_service(svc(n));
  CHECK(one(a, "a") == "192.0.2.0");
  CHECK(one(a, "c") == "192.0.2.2");
  auto del = a.delete_service("default", "a");
  REQUIRE(del.size() == 1);
  CHECK(has_event(del[0], "AddressReleased", "released 192.0.2.0: the Service was deleted"));
  a.apply_service(svc("d"));
  CHECK(one(a, "d") == "192.0.2.3");  // not the just-freed .0
  a.apply_service(svc("e"));
  CHECK(one(a, "e") == "192.0.2.0");  // wrapped around: only .0 was left

  SECTION("exhaustion fails clearly and the waiting Service gets the next freed address") {
    auto f = a.apply_service(svc("f"))[0];
    CHECK(failure_of(f) == "no free IPv4 address in ServiceGroup default");
    CHECK(f.ingress_ips.empty());
    CHECK(a.counters().failed == 1);
    // Retrying without change sends no second event.
    CHECK(a.apply_service(svc("f"))[0].events.empty());
    auto freed = a.delete_service("default", "b");
    REQUIRE(freed.size() == 2);
    CHECK(freed[1].name == "f");
    CHECK(freed[1].ingress_ips == std::vector<std::string>{"192.0.2.1"});
  }
}

// A dual-stack group of one IPv4 and one IPv6 pool, each pool its own subnet.
static service_group_input dual_group(const std::string& v4, const std::string& v6) {
  return group("default", R"({"remote": {"v4pool": {"subnet": ")" + v4 + R"(", "pool": ")" + v4 +
                              R"("}, "v6pool": {"subnet": ")" + v6 + R"(", "pool": ")" + v6 + R"("}}})");
}

static service_view require_dual(const std::string& name, std::vector<std::string> families) {
  auto s = svc(name);
  s.ip_families = std::move(families);
  s.ip_family_policy = "RequireDualStack";
  return s;
}

TEST_CASE("edge pools: a /32 holds one address, /128 too") {
  allocator a;
  a.apply_group(dual_group("192.0.2.9/32", "2001:db8::9/128"));
  auto d = a.apply_service(require_dual("one", {"IPv6", "IPv4"}))[0];
  CHECK(d.ingress_ips == std::vector<std::string>{"2001:db8::9", "192.0.2.9"});  // ipFamilies order
  auto t = svc("two");
  CHECK(failure_of(a.apply_service(t)[0]) == "no free IPv4 address in ServiceGroup default");
}

TEST_CASE("whole-space pools /0 hand out addresses too") {
  allocator a;
  a.apply_group(dual_group("0.0.0.0/0", "::/0"));
  CHECK(a.apply_service(require_dual("all", {"IPv4", "IPv6"}))[0].ingress_ips ==
        std::vector<std::string>{"0.0.0.0", "::"});
  auto st = status_of(a.group_statuses(), "default");
  CHECK(st.families[0].size == "4294967296");
  CHECK(st.families[1].size == "340282366920938463463374607431768211456");
  CHECK(st.families[1].in_use == 1);
}

TEST_CASE("a group at the end of the address space wraps without overflow") {
  allocator a;
  a.apply_group(group("default", v4_remote("255.255.255.254/31", "255.255.255.0/24")));
  a.apply_service(svc("a"));
  a.apply_service(svc("b"));
  CHECK(one(a, "b") == "255.255.255.255");
  a.delete_service("default", "a");
  a.apply_service(svc("c"));
  CHECK(one(a, "c") == "255.255.255.254");
  CHECK(failure_of(a.apply_service(svc("d"))[0]).starts_with("no free IPv4"));
}

TEST_CASE("the group comes from herald.dev/service-group, else default") {
  allocator a;
  a.apply_group(group("default", v4_remote("192.0.2.0/28")));
  a.apply_group(group("edge", v4_remote("198.51.100.0/28", "198.51.100.0/24"), "2026-01-02T00:00:00Z"));
  a.apply_service(svc("plain"));
  a.apply_service(svc("edgy", {{"herald.dev/service-group", "edge"}}));
  CHECK(one(a, "plain") == "192.0.2.0");
  CHECK(one(a, "edgy") == "198.51.100.0");

  auto missing = a.apply_service(svc("lost", {{"herald.dev/service-group", "nowhere"}}))[0];
  CHECK(failure_of(missing) == "ServiceGroup nowhere does not exist");
  // The group appears: the waiting Service is served.
  auto changes = a.apply_group(group("nowhere", v4_remote("203.0.113.0/28", "203.0.113.0/24"), "2026-01-03T00:00:00Z"));
  CHECK(named(changes.services, "lost").ingress_ips == std::vector<std::string>{"203.0.113.0"});
  CHECK(has_event(named(changes.services, "lost"), "AddressAssigned"));

  SECTION("moving a Service to another group releases and re-allocates") {
    auto moved = a.apply_service(svc("plain", {{"herald.dev/service-group", "edge"}}))[0];
    CHECK(has_event(moved, "AddressReleased", "the Service now draws from ServiceGroup edge"));
    CHECK(moved.ingress_ips == std::vector<std::string>{"198.51.100.1"});
    CHECK(moved.annotations.at("herald.dev/allocated-from") == "edge");
  }
}

TEST_CASE("herald.dev/addresses and spec.loadBalancerIP request addresses") {
  allocator a;
  a.apply_group(group("default", dual));
  auto r = svc("r", {{"herald.dev/addresses", "192.0.2.7, 2001:db8::7"}});
  r.ip_families = {"IPv4", "IPv6"};
  r.ip_family_policy = "PreferDualStack";
  auto d = a.apply_service(r)[0];
  CHECK(d.ingress_ips == std::vector<std::string>{"192.0.2.7", "2001:db8::7"});
  CHECK(has_event(d, "AddressAssigned", "assigned requested 192.0.2.7"));

  CHECK(failure_of(a.apply_service(svc("taken", {{"herald.dev/addresses", "192.0.2.7"}}))[0]) ==
        "192.0.2.7 is in use by Service default/r (not shared)");
  CHECK(failure_of(a.apply_service(svc("outside", {{"herald.dev/addresses", "192.0.2.200"}}))[0]) ==
        "herald.dev/addresses: 192.0.2.200 is not in any IPv4 pool of ServiceGroup default");
  CHECK(failure_of(a.apply_service(svc("two", {{"herald.dev/addresses", "192.0.2.1,192.0.2.2"}}))[0]) ==
        "herald.dev/addresses gives two IPv4 addresses; give at most one per family");
  CHECK(failure_of(a.apply_service(svc("junk", {{"herald.dev/addresses", "192.0.2.x"}}))[0]) ==
        "herald.dev/addresses: \"192.0.2.x\" is not an IP address");
  CHECK(failure_of(a.apply_service(svc("fam", {{"herald.dev/addresses", "2001:db8::8"}}))[0]) ==
        "herald.dev/addresses: 2001:db8::8 is IPv6 but the Service gets no IPv6 address");

  auto legacy = svc("legacy");
  legacy.load_balancer_ip = "192.0.2.9";
  auto l = a.apply_service(legacy)[0];
  CHECK(l.ingress_ips == std::vector<std::string>{"192.0.2.9"});
  CHECK(has_event(l, "ConfigurationWarning", "spec.loadBalancerIP is deprecated"));
  CHECK(a.apply_service(applied(legacy, l))[0].events.empty());  // warned once

  SECTION("changing the requested address moves the Service") {
    auto moved = a.apply_service(svc("legacy", {{"herald.dev/addresses", "192.0.2.12"}}))[0];
    CHECK(has_event(moved, "AddressReleased", "released 192.0.2.9: the Service asks for 192.0.2.12"));
    CHECK(moved.ingress_ips == std::vector<std::string>{"192.0.2.12"});
  }
}

TEST_CASE("herald.dev/allow-shared-ip shares one address when ports do not overlap") {
  allocator a;
  a.apply_group(group("default", v4_remote("192.0.2.0/28")));
  auto web = svc("web", {{"herald.dev/allow-shared-ip", "front"}});
  auto dns = svc("dns", {{"herald.dev/allow-shared-ip", "front"}});
  dns.ports = {{"UDP", 53}, {"TCP", 53}};
  a.apply_service(web);
  auto d = a.apply_service(dns)[0];
  CHECK(d.ingress_ips == std::vector<std::string>{"192.0.2.0"});
  CHECK(has_event(d, "AddressAssigned", "sharing 192.0.2.0 with Service default/web (key \"front\")"));
  CHECK(a.counters().shared == 1);

  auto clash = svc("clash", {{"herald.dev/allow-shared-ip", "front"}});
  clash.ports = {{"TCP", 80}};
  CHECK(failure_of(a.apply_service(clash)[0]) ==
        "port TCP/80 on 192.0.2.0 is used by Service default/web (sharing key \"front\")");
  // Same port number, other protocol: no conflict.
  auto udp80 = svc("udp80", {{"herald.dev/allow-shared-ip", "front"}});
  udp80.ports = {{"UDP", 80}};
  CHECK(a.apply_service(udp80)[0].ingress_ips == std::vector<std::string>{"192.0.2.0"});
  // Another key never joins.
  CHECK(a.apply_service(svc("alone", {{"herald.dev/allow-shared-ip", "back"}}))[0].ingress_ips ==
        std::vector<std::string>{"192.0.2.1"});
  // A requested shared address with a conflicting port names the holder.
  auto req = svc("req", {{"herald.dev/allow-shared-ip", "front"}, {"herald.dev/addresses", "192.0.2.0"}});
  req.ports = {{"UDP", 53}};
  CHECK(failure_of(a.apply_service(req)[0]) ==
        "port UDP/53 on 192.0.2.0 is used by Service default/dns (sharing key \"front\")");

  // The address stays while any sharer holds it.
  a.delete_service("default", "web");
  a.delete_service("default", "udp80");
  CHECK(ips(a, "dns") == std::vector<std::string>{"192.0.2.0"});
  auto last = a.delete_service("default", "dns");
  CHECK(has_event(last[0], "AddressReleased", "192.0.2.0"));
  // Freed now, but next fit goes on after .1 first.
  CHECK(a.apply_service(svc("next"))[0].ingress_ips == std::vector<std::string>{"192.0.2.2"});

  SECTION("a sharer whose ports start to conflict loses the shared address") {
    allocator b;
    b.apply_group(group("default", v4_remote("192.0.2.0/28")));
    b.apply_service(web);
    b.apply_service(dns);
    auto changed = dns;
    changed.ports = {{"TCP", 80}};
    auto cd = b.apply_service(changed)[0];
    CHECK(has_event(cd, "AddressReleased", "port TCP/80 on 192.0.2.0 is used by Service default/web"));
    CHECK(failure_of(cd) == "port TCP/80 on 192.0.2.0 is used by Service default/web (sharing key \"front\")");
  }
}

TEST_CASE("ipFamilies and ipFamilyPolicy decide the families") {
  allocator a;
  a.apply_group(group("default", dual));
  a.apply_group(group("v4only", v4_remote("198.51.100.0/28", "198.51.100.0/24"), "2026-01-02T00:00:00Z"));

  auto prefer = svc("prefer");
  prefer.ip_families = {"IPv4", "IPv6"};
  prefer.ip_family_policy = "PreferDualStack";
  CHECK(a.apply_service(prefer)[0].ingress_ips == std::vector<std::string>{"192.0.2.0", "2001:db8::"});

  auto prefer_v4 = prefer;
  prefer_v4.name = "prefer-v4";
  prefer_v4.annotations = {{"herald.dev/service-group", "v4only"}};
  CHECK(a.apply_service(prefer_v4)[0].ingress_ips == std::vector<std::string>{"198.51.100.0"});

  auto require = prefer_v4;
  require.name = "require";
  require.ip_family_policy = "RequireDualStack";
  CHECK(failure_of(a.apply_service(require)[0]) ==
        "ipFamilyPolicy RequireDualStack needs IPv4 and IPv6 but ServiceGroup v4only has no IPv6 pool");

  auto single6 = svc("single6");
  single6.ip_families = {"IPv6"};
  CHECK(a.apply_service(single6)[0].ingress_ips == std::vector<std::string>{"2001:db8::1"});
  auto single6_v4 = single6;
  single6_v4.name = "single6-v4";
  single6_v4.annotations = {{"herald.dev/service-group", "v4only"}};
  CHECK(failure_of(a.apply_service(single6_v4)[0]) ==
        "ipFamilyPolicy SingleStack wants IPv6 but ServiceGroup v4only has no IPv6 pool");

  SECTION("dropping a family releases its address") {
    auto back = prefer;
    back.ip_families = {"IPv4"};
    back.ip_family_policy = "SingleStack";
    auto d = a.apply_service(back)[0];
    CHECK(has_event(d, "AddressReleased", "the Service no longer has the IPv6 family"));
    CHECK(d.ingress_ips == std::vector<std::string>{"192.0.2.0"});
  }
  SECTION("RequireDualStack is all or nothing") {
    allocator b;
    b.apply_group(group("default", R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"},
                                                  "v6pool": {"subnet": "2001:db8::/64", "pool": "2001:db8::1/128"}}})"));
    auto x = svc("x");
    x.ip_families = {"IPv6"};
    b.apply_service(x);  // takes the only IPv6 address
    auto both = svc("both");
    both.ip_families = {"IPv4", "IPv6"};
    both.ip_family_policy = "RequireDualStack";
    auto d = b.apply_service(both)[0];
    CHECK(failure_of(d) == "no free IPv6 address in ServiceGroup default");
    CHECK(d.ingress_ips.empty());
    CHECK_FALSE(has_event(d, "AddressAssigned"));
    CHECK(b.counters().assigned == 1);
    // The IPv4 address it did not keep is free again.
    CHECK(b.apply_service(svc("v4"))[0].ingress_ips == std::vector<std::string>{"192.0.2.1"});
  }
}

TEST_CASE("spec.namespaces restricts who may draw from a group") {
  allocator a;
  a.apply_group(
      group("default",
            R"({"namespaces": ["web"], "remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"}}})"));
  auto outsider = svc("x");
  CHECK(failure_of(a.apply_service(outsider)[0]) ==
        "namespace default may not use ServiceGroup default (spec.namespaces)");
  auto insider = svc("y");
  insider.ns = "web";
  CHECK(a.apply_service(insider)[0].ingress_ips == std::vector<std::string>{"192.0.2.0"});
}

TEST_CASE("a Service that stops being ours releases its address and loses the annotations") {
  allocator a;
  a.apply_group(group("default", v4_remote("192.0.2.0/28")));
  auto s = svc("web");
  s = applied(s, a.apply_service(s)[0]);
  s.type = "NodePort";
  auto d = a.apply_service(s)[0];
  CHECK_FALSE(d.managed);
  CHECK(d.write);
  CHECK(d.ingress_ips.empty());
  CHECK(d.annotations.at("herald.dev/allocated-by") == std::nullopt);
  CHECK(has_event(d, "AddressReleased", "no longer a LoadBalancer"));
  CHECK(annotations_patch(d)["metadata"]["annotations"]["herald.dev/allocated-from"].is_null());
  CHECK(a.addresses_of("default", "web").empty());

  SECTION("deleted and created again under the same name: a new Service") {
    auto t = svc("re");
    t = applied(t, a.apply_service(t)[0]);
    auto again = svc("re");
    again.uid = "uid-other";
    auto d2 = a.apply_service(again)[0];
    CHECK(has_event(d2, "AddressReleased", "created again"));
    CHECK(d2.ingress_ips.size() == 1);
  }
}

TEST_CASE("rebuild adopts existing addresses before allocating anything") {
  std::vector<service_view> existing;
  for (int i = 0; i < 4; ++i) {
    auto s = svc("s" + std::to_string(i), {{"herald.dev/allocated-by", "herald"},
                                           {"herald.dev/allocated-from", "default"},
                                           {"herald.dev/pool-type", "remote"}});
    s.ingress_ips = {"192.0.2." + std::to_string(10 - i)};
    existing.push_back(s);
  }
  auto fresh = svc("fresh");
  existing.push_back(fresh);
  allocator a;
  auto out = a.rebuild({group("default", v4_remote("192.0.2.0/28"))}, existing);
  REQUIRE(out.services.size() == 5);
  for (auto& d : out.services) {
    if (d.name == "fresh") continue;
    CHECK_FALSE(d.write);  // nothing changes on restart
    CHECK(d.events.empty());
  }
  // The new Service is served after the adopted ones, after the highest address in use.
  CHECK(one(a, "fresh") == "192.0.2.11");
  CHECK(one(a, "s0") == "192.0.2.10");
  CHECK(status_of(a.group_statuses(), "default").families[0].in_use == 5);
}

TEST_CASE("an address on two Services that do not share it: the older keeps it") {
  auto older = svc("older");
  older.ingress_ips = {"192.0.2.5"};
  auto newer = svc("newer");
  newer.ingress_ips = {"192.0.2.5"};
  allocator a;
  // Listed newest first: the age order, not the list order, decides.
  auto out = a.rebuild({group("default", v4_remote("192.0.2.0/28"))}, {newer, older});
  CHECK(one(a, "older") == "192.0.2.5");
  CHECK(one(a, "newer") != "192.0.2.5");
  const service_decision* n = nullptr;
  for (auto& d : out.services)
    if (d.name == "newer") n = &d;
  REQUIRE(n != nullptr);
  CHECK(n->write);
  int warnings_on_older = 0, warnings_on_newer = 0;
  for (auto& d : out.services)
    for (auto& e : d.events)
      if (e.reason == "ConfigurationWarning") (e.name == "older" ? warnings_on_older : warnings_on_newer)++;
  CHECK(warnings_on_older == 1);
  CHECK(warnings_on_newer == 1);

  SECTION("Services that share the address under one key keep it both") {
    auto x = svc("x", {{"herald.dev/allow-shared-ip", "k"}});
    auto y = svc("y", {{"herald.dev/allow-shared-ip", "k"}});
    y.ports = {{"TCP", 443}};
    x.ingress_ips = y.ingress_ips = {"192.0.2.5"};
    allocator b;
    b.rebuild({group("default", v4_remote("192.0.2.0/28"))}, {x, y});
    CHECK(one(b, "x") == "192.0.2.5");
    CHECK(one(b, "y") == "192.0.2.5");
  }
}

TEST_CASE("pool edits: grow at once, shrink keeps with a warning, delete keeps and warns") {
  allocator a;
  a.apply_group(group("default", v4_remote("192.0.2.0/31")));
  a.apply_service(svc("a"));
  a.apply_service(svc("b"));
  CHECK(failure_of(a.apply_service(svc("c"))[0]).starts_with("no free"));

  auto grown = a.apply_group(group("default", v4_remote("192.0.2.0/30")));
  CHECK(named(grown.services, "c").ingress_ips == std::vector<std::string>{"192.0.2.2"});
  CHECK(named(grown.services, "a").events.empty());
  CHECK(status_of(a.group_statuses(), "default").families[0].size == "4");

  auto shrunk = a.apply_group(group("default", v4_remote("192.0.2.0/32")));
  // b (.1) and c (.2) are outside now: kept, each warned once.
  for (auto name : {"b", "c"}) {
    auto& d = named(shrunk.services, name);
    CHECK(d.ingress_ips.size() == 1);
    CHECK(has_event(d, "ConfigurationWarning", "is outside the pools of ServiceGroup default"));
  }
  CHECK(named(shrunk.services, "a").events.empty());
  CHECK(named(a.apply_group(group("default", v4_remote("192.0.2.0/32"))).services, "b").events.empty());
  CHECK(one(a, "b") == "192.0.2.1");
  auto st = status_of(a.group_statuses(), "default");
  CHECK(st.families[0].in_use == 3);
  REQUIRE(st.conditions.size() == 2);
  CHECK(st.conditions[1].type == "Warning");
  CHECK(st.conditions[1].reason == "AddressesOutsidePools");
  CHECK(st.conditions[1].message.find("192.0.2.1, 192.0.2.2") != std::string::npos);

  auto deleted = a.delete_group("default");
  CHECK(deleted.services.size() == 3);
  CHECK(has_event(deleted.services[0], "ConfigurationWarning", "ServiceGroup default does not exist"));
  CHECK(ips(a, "a") == std::vector<std::string>{"192.0.2.0"});
  auto gone = status_of(a.group_statuses(), "default");
  CHECK_FALSE(gone.exists);
  CHECK(gone.families[0].in_use == 3);
  CHECK(gone.conditions.at(0).reason == "Deleted");
  // A new Service asking for the deleted group fails; existing ones stay.
  CHECK(failure_of(a.apply_service(svc("d"))[0]) == "ServiceGroup default does not exist");
}

TEST_CASE("an invalid group is reported and the others keep working") {
  allocator a;
  auto first = a.apply_group(group("first", v4_remote("192.0.2.0/28"), "2026-01-01T00:00:00Z"));
  CHECK(first.group_events.empty());
  auto overlap = a.apply_group(group("second", v4_remote("192.0.2.8/29"), "2026-01-02T00:00:00Z"));
  REQUIRE(overlap.group_events.size() == 1);
  CHECK(overlap.group_events[0].kind == "ServiceGroup");
  CHECK(overlap.group_events[0].type == event_type::warning);
  CHECK(overlap.group_events[0].message ==
        "invalid ServiceGroup: pool \"192.0.2.8/29\" overlaps pool \"192.0.2.0/28\" of ServiceGroup first (the older "
        "group keeps it)");
  auto bad = a.apply_group(group("third", v4_remote("192.0.2.20-192.0.2.10"), "2026-01-03T00:00:00Z"));
  REQUIRE(bad.group_events.size() == 1);
  CHECK(bad.group_events[0].message.find("backwards") != std::string::npos);

  auto statuses = a.group_statuses();
  auto& second = status_of(statuses, "second");
  CHECK(second.conditions.at(0).type == "Ready");
  CHECK(second.conditions.at(0).status == "False");
  CHECK(second.conditions.at(1).type == "Invalid");
  CHECK(second.conditions.at(1).message.find("overlaps") != std::string::npos);
  CHECK(status_of(statuses, "first").conditions.at(0).status == "True");

  CHECK(failure_of(a.apply_service(svc("s", {{"herald.dev/service-group", "second"}}))[0])
            .starts_with("ServiceGroup second is invalid: pool \"192.0.2.8/29\" overlaps"));
  CHECK(a.apply_service(svc("t", {{"herald.dev/service-group", "first"}}))[0].ingress_ips.size() == 1);
  // Editing an unrelated group does not repeat the invalid group's event.
  CHECK(a.apply_group(group("first", v4_remote("192.0.2.0/28"), "2026-01-01T00:00:00Z")).group_events.empty());
  // The older group goes away: the other one becomes valid and serves its waiting Service.
  auto fixed = a.delete_group("first");
  bool served = false;
  for (auto& d : fixed.services)
    if (d.name == "s") served = d.ingress_ips == std::vector<std::string>{"192.0.2.8"};
  CHECK(served);

  auto patch = group_status_patch(status_of(a.group_statuses(), "second"));
  CHECK(patch["status"]["v4Size"] == "8");
  CHECK(patch["status"]["poolType"] == "remote");
  CHECK(patch["status"]["v4InUse"] == 1);
  CHECK(patch["status"]["conditions"][0]["type"] == "Ready");
}

TEST_CASE("multiPool takes one address from every pool; balancePools prefers the emptiest") {
  allocator a;
  a.apply_group(group("multi", R"({"local": {"multiPool": true, "v4pools": [
      {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/30"},
      {"subnet": "198.51.100.0/24", "pool": "198.51.100.0/30"}]}})"));
  auto d = a.apply_service(svc("m", {{"herald.dev/service-group", "multi"}}))[0];
  CHECK(d.ingress_ips == std::vector<std::string>{"192.0.2.0", "198.51.100.0"});
  CHECK(d.annotations.at("herald.dev/pool-type") == "local");

  allocator b;
  b.apply_group(group("bal", R"({"remote": {"balancePools": true, "v4pools": [
      {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/31"},
      {"subnet": "198.51.100.0/24", "pool": "198.51.100.0/30"}]}})"));
  std::vector<std::string> got;
  for (auto n : {"a", "b", "c"})
    got.push_back(b.apply_service(svc(n, {{"herald.dev/service-group", "bal"}}))[0].ingress_ips.at(0));
  // Free 2 and 4: the second pool; 2 and 3: the second; 2 and 2: a tie, the first in order.
  CHECK(got == std::vector<std::string>{"198.51.100.0", "198.51.100.1", "192.0.2.0"});

  allocator c;  // without balancePools: pools in order
  c.apply_group(group("seq", R"({"remote": {"v4pools": [
      {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/31"},
      {"subnet": "198.51.100.0/24", "pool": "198.51.100.0/30"}]}})"));
  got.clear();
  for (auto n : {"a", "b", "c"})
    got.push_back(c.apply_service(svc(n, {{"herald.dev/service-group", "seq"}}))[0].ingress_ips.at(0));
  CHECK(got == std::vector<std::string>{"192.0.2.0", "192.0.2.1", "198.51.100.0"});
}

TEST_CASE("Service objects convert from API JSON") {
  auto r = service_view_from_json(json::parse(R"({
    "metadata": {"namespace": "web", "name": "front", "uid": "u1", "creationTimestamp": "2026-11-30T08:00:00Z",
                 "annotations": {"herald.dev/service-group": "edge"}},
    "spec": {"type": "LoadBalancer", "loadBalancerClass": "herald.dev/lb", "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
             "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack", "loadBalancerIP": "192.0.2.1"},
    "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1", "ipMode": "VIP"}, {"hostname": "x.example"}]}}})"));
  REQUIRE(r);
  CHECK(r->key() == "web/front");
  CHECK(r->load_balancer_class == "herald.dev/lb");
  CHECK(r->ports == std::vector<service_port>{{"TCP", 80}, {"UDP", 53}});
  CHECK(r->ip_families == std::vector<std::string>{"IPv4", "IPv6"});
  CHECK(r->ingress_ips == std::vector<std::string>{"192.0.2.1"});
  CHECK(r->annotation_or("herald.dev/service-group", "default") == "edge");

  auto minimal = service_view_from_json(
      json::parse(R"({"metadata": {"name": "x", "namespace": "d"}, "spec": {"ports": [{"port": 1}]}})"));
  REQUIRE(minimal);
  CHECK(minimal->type == "ClusterIP");
  CHECK(minimal->ports.at(0).protocol == "TCP");

  auto bad_port =
      service_view_from_json(json::parse(R"({"metadata": {"name": "x"}, "spec": {"ports": [{"port": 70000}]}})"));
  REQUIRE_FALSE(bad_port);
  CHECK(bad_port.error() == "spec.ports[0].port: must be an integer from 1 to 65535");
  auto bad_annotation = service_view_from_json(json::parse(R"({"metadata": {"name": "x", "annotations": {"a": 1}}})"));
  REQUIRE_FALSE(bad_annotation);
  CHECK(bad_annotation.error() == "metadata.annotations.a: must be a string");
  CHECK_FALSE(service_view_from_json(json::parse("[]")));
}

TEST_CASE("a Service first seen with an address another Service holds is the one re-allocated") {
  allocator a;
  a.apply_group(group("default", v4_remote("192.0.2.0/28")));
  auto holder = svc("holder");
  holder = applied(holder, a.apply_service(holder)[0]);
  auto late = svc("late");
  late.ingress_ips = {"192.0.2.0"};
  auto d = a.apply_service(late)[0];
  CHECK(d.ingress_ips == std::vector<std::string>{"192.0.2.1"});
  CHECK(has_event(d, "ConfigurationWarning", "192.0.2.0 is also in the status of Service default/holder"));
  CHECK(one(a, "holder") == "192.0.2.0");
  // A late Service with a free address in its status keeps it.
  auto keeper = svc("keeper");
  keeper.ingress_ips = {"192.0.2.9"};
  auto k = a.apply_service(keeper)[0];
  CHECK(k.ingress_ips == std::vector<std::string>{"192.0.2.9"});
  CHECK_FALSE(has_event(k, "AddressAssigned"));
}

TEST_CASE("an address kept outside a shrunken pool is never handed out by the group that now covers it") {
  allocator a;
  a.apply_group(group("first", v4_remote("192.0.2.0/30"), "2026-01-01T00:00:00Z"));
  a.apply_group(group("second", v4_remote("192.0.2.8/30"), "2026-01-02T00:00:00Z"));
  for (auto n : {"a", "b", "c", "d"}) a.apply_service(svc(n, {{"herald.dev/service-group", "first"}}));
  CHECK(one(a, "d") == "192.0.2.3");
  a.apply_group(group("first", v4_remote("192.0.2.0/31"), "2026-01-01T00:00:00Z"));           // .2 and .3 stay, outside
  a.apply_group(group("second", v4_remote("192.0.2.2-192.0.2.11"), "2026-01-02T00:00:00Z"));  // now covers them
  std::vector<std::string> got;
  for (int i = 0; i < 8; ++i) {
    auto d = a.apply_service(svc("n" + std::to_string(i), {{"herald.dev/service-group", "second"}}))[0];
    if (!d.ingress_ips.empty()) got.push_back(d.ingress_ips[0]);
  }
  CHECK(got.size() == 8);
  CHECK(std::find(got.begin(), got.end(), "192.0.2.2") == got.end());
  CHECK(std::find(got.begin(), got.end(), "192.0.2.3") == got.end());
  // Once c releases .2, second may hand it out.
  a.delete_service("default", "c");
  CHECK(a.apply_service(svc("n8", {{"herald.dev/service-group", "second"}}))[0].ingress_ips ==
        std::vector<std::string>{"192.0.2.2"});
}

TEST_CASE("the sole holder of an address may change its sharing key; the address follows") {
  allocator a;
  a.apply_group(group("default", v4_remote("192.0.2.0/28")));
  auto s = svc("s", {{"herald.dev/allow-shared-ip", "old"}});
  s = applied(s, a.apply_service(s)[0]);
  s.annotations["herald.dev/allow-shared-ip"] = "new";
  auto d = a.apply_service(s)[0];
  CHECK(d.events.empty());
  CHECK(d.ingress_ips == std::vector<std::string>{"192.0.2.0"});
  auto joiner = svc("j", {{"herald.dev/allow-shared-ip", "new"}});
  joiner.ports = {{"TCP", 8080}};
  CHECK(a.apply_service(joiner)[0].ingress_ips == std::vector<std::string>{"192.0.2.0"});
  auto other = svc("o", {{"herald.dev/allow-shared-ip", "old"}});
  other.ports = {{"TCP", 9090}};
  CHECK(a.apply_service(other)[0].ingress_ips == std::vector<std::string>{"192.0.2.1"});
}

TEST_CASE("random adds, deletes, group edits and restarts never give one address to two Services") {
  // A small pool and many operations: every state is checked against the
  // invariants (distinct addresses, inside the pool unless kept after a
  // shrink, failures only when the pool is full).
  std::uint64_t seed = 12345;
  auto next = [&seed](std::uint64_t n) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (seed >> 33) % n;
  };
  allocator a;
  std::map<std::string, service_view> live;
  std::string pool = "192.0.2.0/28";
  a.apply_group(group("default", v4_remote(pool)));
  int operations = 0;
  for (int step = 0; step < 3000; ++step, ++operations) {
    auto op = next(100);
    std::string name = "s" + std::to_string(next(24));
    if (op < 55) {
      auto v = live.count(name) ? live[name] : svc(name);
      for (auto& d : a.apply_service(v))
        if (live.count(d.name) || d.name == name) live[d.name] = applied(d.name == name ? v : live[d.name], d);
    } else if (op < 90) {
      for (auto& d : a.delete_service("default", name))
        if (d.name != name && live.count(d.name)) live[d.name] = applied(live[d.name], d);
      live.erase(name);
    } else if (op < 96) {
      pool = next(2) ? "192.0.2.0/28" : "192.0.2.0/29";
      for (auto& d : a.apply_group(group("default", v4_remote(pool))).services)
        if (live.count(d.name)) live[d.name] = applied(live[d.name], d);
    } else {
      std::vector<service_view> all;
      for (auto& [n, v] : live) all.push_back(v);
      allocator restarted;
      auto out = restarted.rebuild({group("default", v4_remote(pool))}, all);
      for (auto& d : out.services) {
        CHECK_FALSE(d.write);  // a restart changes nothing
        live[d.name] = applied(live[d.name], d);
      }
      a = std::move(restarted);
    }
    std::set<std::string> seen;
    std::size_t held = 0;
    for (auto& [n, v] : live) {
      auto got = ips(a, n);
      REQUIRE(got == v.ingress_ips);  // the table and the written status agree
      for (auto& ip : got) {
        INFO("step " << step << ": " << ip << " held twice");
        REQUIRE(seen.insert(ip).second);
        ++held;
      }
    }
    auto capacity = pool == "192.0.2.0/28" ? 16u : 8u;
    if (held < capacity) {
      for (auto& [n, v] : live) {
        INFO("step " << step << ": " << n << " waits although addresses are free");
        if (capacity == 16) CHECK(v.ingress_ips.size() == 1);
      }
    }
  }
  CHECK(operations == 3000);
}
