// The applier (agent/applier.hpp) against the real kernel in network
// namespaces the test creates (hnl-agent-*, removed even on failure) and a
// real bgp::speaker: addresses land on a pre-existing kube-lb0 (this kernel
// has no dummy type, so it is pre-created as a bridge and adopted), routes
// are announced only while an address covers them, removals withdraw,
// operator addresses survive, drift is repaired from the event stream, a
// restarted agent adopts its addresses without churn, a route-only change
// keeps the sessions, a renamed dummy link moves the addresses, local
// addresses get gratuitous ARP. Documentation ranges only.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include "agent/applier.hpp"
#include "netlink/events.hpp"
#include "netlink/rtnl.hpp"
#include "tests/netlink/netns.hpp"

using namespace herald;
using namespace herald::agent;
using netlink::test::enter;
using netlink::test::netns;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

netlink::address_spec spec(const char* cidr) {
  auto s = netlink::address_spec::parse(cidr);
  REQUIRE(s);
  s->noprefixroute = true;
  return *s;
}

bgp::wire::ip_prefix prefix(const char* text) {
  auto p = bgp::wire::ip_prefix::parse(text);
  REQUIRE(p);
  return *p;
}

bgp::speaker_config speaker_cfg(std::vector<const char*> routes) {
  bgp::speaker_config c;
  c.router_id = 0xC0000201;  // 192.0.2.1
  c.local_asn = 64512;
  bgp::peer_config p;
  p.address = *bgp::wire::ip_address::parse("198.51.100.1");  // unreachable: no route in the namespace
  p.asn = 64513;
  p.local_asn = 64512;
  c.peers.push_back(p);
  auto attrs = std::make_shared<const bgp::route_attrs>();
  for (auto* r : routes) c.routes.emplace_back(prefix(r), attrs);
  return c;
}

desired_node_state desired(std::vector<const char*> addrs, std::vector<const char*> routes,
                           std::string link = "kube-lb0") {
  desired_node_state d;
  d.dummy.link = std::move(link);
  for (auto* a : addrs) d.dummy.addresses.push_back(spec(a));
  d.speaker = speaker_cfg(std::move(routes));
  return d;
}

// What `ip addr show dev LINK` lists.
std::string addrs_on(const netns& ns, const std::string& link) { return ns.run("ip -o addr show dev " + link); }

struct fixture {
  netns ns{"agent"};
  std::unique_ptr<enter> in;
  asio::io_context io;
  std::unique_ptr<netlink::rtnl> nl;
  std::unique_ptr<bgp::speaker> sp;
  std::unique_ptr<applier> ap;

  fixture() {
    ns.run("ip link add kube-lb0 type bridge");
    in = std::make_unique<enter>(ns);
    auto r = netlink::rtnl::open();
    REQUIRE(r);
    nl = std::move(*r);
    restart();
  }
  // A new speaker and applier on the same kernel state: what a restarted agent sees.
  void restart() {
    if (ap) ap->stop();
    ap.reset();
    sp.reset();
    io.restart();
    io.poll();
    sp = std::make_unique<bgp::speaker>(io.get_executor(), bgp::speaker_config{});
    REQUIRE_FALSE(sp->start());
    ap = std::make_unique<applier>(io.get_executor(), *nl, *sp, applier_options{});
  }
  // Runs what is ready; restart() first because a poll that ran out of work stops the context.
  void pump() {
    io.restart();
    io.poll();
  }
  ~fixture() {
    if (ap) ap->stop();
    ap.reset();
    sp.reset();
    io.poll();
  }
};

}  // namespace

TEST_CASE("applier: addresses on an adopted kube-lb0, then routes; End-of-RIB gate once", "[agent][applier]") {
  fixture f;
  auto r = f.ap->apply(desired({"192.0.2.10/32", "2001:db8::10/128"}, {"192.0.2.10/32", "2001:db8::10/128"}));
  CHECK(r.addresses_ok);
  REQUIRE(r.dummy);
  CHECK(r.dummy->added.size() == 2);
  CHECK(r.errors.empty());
  auto shown = addrs_on(f.ns, "kube-lb0");
  CHECK_THAT(shown, Catch::Contains("192.0.2.10/32") && Catch::Contains("2001:db8::10/128"));
  CHECK(r.routes_announced == 2);
  CHECK(r.routes_held.empty());
  CHECK(f.sp->route_count() == 2);
  CHECK(r.speaker_reconfigured);
  CHECK(r.initial_complete_sent);
  CHECK(f.ap->initial_complete());
  REQUIRE(f.ap->applied_speaker());
  CHECK(f.ap->applied_speaker()->peers.size() == 1);
  CHECK(f.sp->status().size() == 1);

  // The same again: nothing changes, the sessions stay, no second End-of-RIB gate.
  auto again = f.ap->apply(desired({"192.0.2.10/32", "2001:db8::10/128"}, {"192.0.2.10/32", "2001:db8::10/128"}));
  CHECK_FALSE(again.dummy->changed());
  CHECK_FALSE(again.speaker_reconfigured);
  CHECK_FALSE(again.initial_complete_sent);
  CHECK(f.ap->counters().netlink_operations == 2);
}

TEST_CASE("applier: a route with no covering address on the link is held back", "[agent][applier]") {
  fixture f;
  // 203.0.113.0/24 aggregates 203.0.113.5 and 2001:db8:1::/64 aggregates
  // 2001:db8:1::9: covered; 198.51.100.7/32 and 2001:db8:2::/64 have no address
  // (the lookup in the sorted link addresses finds the next one, 203.0.113.5 /
  // nothing, and must not count it).
  auto r = f.ap->apply(desired({"203.0.113.5/24", "2001:db8:1::9/64"},
                               {"203.0.113.0/24", "198.51.100.7/32", "2001:db8:1::/64", "2001:db8:2::/64"}));
  CHECK(r.routes_announced == 2);
  REQUIRE(r.routes_held.size() == 2);
  CHECK(r.routes_held[0].to_string() == "198.51.100.7/32");
  CHECK(r.routes_held[1].to_string() == "2001:db8:2::/64");
  CHECK(f.sp->route_count() == 2);
}

TEST_CASE("applier: removal leaves the link and the table; operator addresses survive", "[agent][applier]") {
  fixture f;
  f.ns.run("ip addr add 192.0.2.99/32 dev kube-lb0");  // an operator's, not Herald's
  f.ap->apply(desired({"192.0.2.10/32", "192.0.2.11/32", "192.0.2.99/32"},
                      {"192.0.2.10/32", "192.0.2.11/32", "192.0.2.99/32"}));
  CHECK(f.sp->route_count() == 3);  // the operator's address is on the link: it may be announced
  auto r = f.ap->apply(desired({"192.0.2.11/32"}, {"192.0.2.11/32"}));
  REQUIRE(r.dummy);
  CHECK(r.dummy->removed.size() == 1);
  CHECK_FALSE(r.speaker_reconfigured);  // routes only: the sessions stay
  CHECK(f.sp->route_count() == 1);
  auto shown = addrs_on(f.ns, "kube-lb0");
  CHECK_THAT(shown, !Catch::Contains("192.0.2.10/32"));
  CHECK_THAT(shown, Catch::Contains("192.0.2.11/32") && Catch::Contains("192.0.2.99/32"));
  f.ap->apply(desired({}, {}));
  shown = addrs_on(f.ns, "kube-lb0");
  CHECK_THAT(shown, !Catch::Contains("192.0.2.11/32"));
  CHECK_THAT(shown, Catch::Contains("192.0.2.99/32"));
  CHECK(f.sp->route_count() == 0);
}

TEST_CASE("applier: drift is repaired from the netlink event stream", "[agent][applier]") {
  fixture f;
  auto ev = netlink::event_stream::open(f.io.get_executor());
  REQUIRE(ev);
  (*ev)->start([&](const netlink::event& e) { f.ap->on_netlink_event(e); });
  f.ap->apply(desired({"192.0.2.20/32"}, {"192.0.2.20/32"}));
  f.ns.run("ip addr del 192.0.2.20/32 dev kube-lb0");
  bool back = netlink::test::poll_until(2s, [&] {
    f.pump();
    return addrs_on(f.ns, "kube-lb0").find("192.0.2.20/32") != std::string::npos;
  });
  CHECK(back);
  CHECK(f.ap->counters().netlink_operations >= 2);
  (*ev)->stop();
}

TEST_CASE("applier: a restarted agent adopts its addresses without churn", "[agent][applier]") {
  fixture f;
  f.ap->apply(desired({"192.0.2.30/32", "2001:db8::30/128"}, {"192.0.2.30/32", "2001:db8::30/128"}));
  f.restart();  // the addresses stay on the link across the restart
  CHECK_THAT(addrs_on(f.ns, "kube-lb0"), Catch::Contains("192.0.2.30/32"));
  auto r = f.ap->apply(desired({"192.0.2.30/32", "2001:db8::30/128"}, {"192.0.2.30/32", "2001:db8::30/128"}));
  REQUIRE(r.dummy);
  CHECK(r.dummy->added.empty());
  CHECK(r.dummy->removed.empty());
  CHECK(r.initial_complete_sent);  // the new speaker gets its End-of-RIB gate
  CHECK(f.sp->route_count() == 2);
}

TEST_CASE("applier: a renamed dummy link moves Herald's addresses", "[agent][applier]") {
  fixture f;
  f.ns.run("ip link add lb-other type bridge");
  f.ap->apply(desired({"192.0.2.40/32"}, {"192.0.2.40/32"}));
  auto r = f.ap->apply(desired({"192.0.2.40/32"}, {"192.0.2.40/32"}, "lb-other"));
  CHECK(r.addresses_ok);
  CHECK_THAT(addrs_on(f.ns, "kube-lb0"), !Catch::Contains("192.0.2.40/32"));
  CHECK_THAT(addrs_on(f.ns, "lb-other"), Catch::Contains("192.0.2.40/32"));
  CHECK(f.sp->route_count() == 1);
}

TEST_CASE("applier: a link that cannot exist is an error, and its routes are held", "[agent][applier]") {
  fixture f;
  auto r = f.ap->apply(desired({"192.0.2.50/32"}, {"192.0.2.50/32"}, "bad/name"));
  CHECK_FALSE(r.addresses_ok);
  REQUIRE_FALSE(r.errors.empty());
  CHECK_THAT(r.errors[0], Catch::Contains("bad/name"));
  CHECK(r.routes_held.size() == 1);
  CHECK(f.sp->route_count() == 0);
  CHECK(r.initial_complete_sent);  // nothing to announce is still a complete initial set
  CHECK(f.ap->counters().netlink_errors >= 1);
}

TEST_CASE("applier: local addresses go on the local link with gratuitous ARP", "[agent][applier]") {
  fixture f;
  netns peer("agentpeer");
  f.ns.run("ip link add eth-lb type veth peer name eth-peer netns " + peer.name());
  f.ns.run("ip link set eth-lb up");
  peer.run("ip link set eth-peer up");
  f.ns.run("ip addr add 198.51.100.2/24 dev eth-lb");
  auto d = desired({}, {});
  d.local.link = "eth-lb";
  d.local.addresses.push_back(spec("198.51.100.50/32"));
  d.garp.count = 1;
  d.garp.interval = 10ms;
  auto r = f.ap->apply(d);
  CHECK(r.addresses_ok);
  REQUIRE(r.local);
  CHECK(r.local->added.size() == 1);
  CHECK_THAT(addrs_on(f.ns, "eth-lb"), Catch::Contains("198.51.100.50/32") && Catch::Contains("198.51.100.2/24"));
  CHECK(f.ap->counters().garp_sent == 1);
  netlink::test::poll_until(300ms, [&] {
    f.pump();
    return false;
  });
  CHECK(f.ap->counters().garp_errors == 0);
  f.ap->apply(d);  // already announced: nothing new
  CHECK(f.ap->counters().garp_sent == 1);
  // A restarted agent adopts the address and announces it again: meanwhile
  // another node may have held it, and neighbours' caches point there.
  f.restart();
  r = f.ap->apply(d);
  REQUIRE(r.local);
  CHECK(r.local->added.empty());
  CHECK(f.ap->counters().garp_sent == 1);
  // Graceful shutdown releases it.
  f.ap->release_local();
  CHECK_THAT(addrs_on(f.ns, "eth-lb"), !Catch::Contains("198.51.100.50/32"));
  f.ap->apply(d);
  // The node's own address is never Herald's to remove.
  f.ap->apply(desired({}, {}));
  CHECK_THAT(addrs_on(f.ns, "eth-lb"), !Catch::Contains("198.51.100.50/32"));
  CHECK_THAT(addrs_on(f.ns, "eth-lb"), Catch::Contains("198.51.100.2/24"));
}

TEST_CASE("sessions_differ ignores routes only", "[agent][applier]") {
  auto a = speaker_cfg({"192.0.2.1/32"});
  auto b = speaker_cfg({"192.0.2.2/32"});
  CHECK_FALSE(sessions_differ(a, b));
  b.peers[0].hold_time = 30;
  CHECK(sessions_differ(a, b));
  b = a;
  b.router_id = 1;
  CHECK(sessions_differ(a, b));
}
