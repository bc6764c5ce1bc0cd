// kube-lb0 and addresses against the real kernel, in namespaces the tests
// create: ensure/adopt the link, add / remove / list with several prefix
// lengths, idempotence, flags and lifetimes as `ip -d addr` shows them,
// ownership (an operator's address survives, a restarted agent recognises
// its own), lookups, and bad input refused with nothing half-applied.
#include <catch2/catch.hpp>
#include <linux/if_addr.h>

#include <algorithm>
#include <regex>

#include "netlink/reconciler.hpp"
#include "netlink/rtnl.hpp"
#include "netns.hpp"

using namespace herald::netlink;
using herald::netlink::test::enter;
using herald::netlink::test::netns;

namespace {

address_spec spec(const char* cidr) {
  auto s = address_spec::parse(cidr);
  REQUIRE(s);
  return *s;
}

std::unique_ptr<rtnl> open_rtnl(rtnl_options o = {}) {
  auto nl = rtnl::open(o);
  REQUIRE(nl);
  return std::move(*nl);
}

bool has(const std::vector<address_info>& v, const char* cidr) {
  auto s = spec(cidr);
  return std::any_of(v.begin(), v.end(),
                     [&](const address_info& a) { return a.address == s.address && a.prefix_len == s.prefix_len; });
}

// A namespace with kube-lb0 pre-created as a bridge (the kernel has no dummy).
struct lb_namespace {
  netns ns{"addr"};
  lb_namespace() { ns.run("ip link add kube-lb0 type bridge"); }
};

}  // namespace

TEST_CASE("ensure_link creates a dummy, or says which module is missing", "[netlink][link]") {
  netns ns("link");
  enter in(ns);
  auto nl = open_rtnl();
  auto r = nl->ensure_link("kube-lb0");
  if (r) {
    // A kernel with the dummy type: the link exists, is a dummy, and is up.
    CHECK(r->kind == "dummy");
    CHECK(r->up);
  } else {
    CHECK(r.error().is(errc::link_type_unsupported));
    CHECK_THAT(r.error().message, Catch::Contains("kube-lb0") && Catch::Contains("`dummy`") &&
                                      Catch::Contains("pre-create"));
    CHECK(ns.try_run("ip link show kube-lb0") != 0);  // nothing half-created
  }
}

TEST_CASE("ensure_link adopts an existing link of any type and sets it up", "[netlink][link]") {
  netns ns("link");
  ns.run("ip link add lb-custom type bridge");  // the name is configurable
  enter in(ns);
  auto nl = open_rtnl();
  auto r = nl->ensure_link("lb-custom");
  REQUIRE(r);
  CHECK(r->kind == "bridge");
  CHECK(r->up);
  CHECK_THAT(ns.run("ip -o link show lb-custom"), Catch::Contains("<BROADCAST,MULTICAST,UP"));
  CHECK(r->multicast);  // a bridge's default: the agent warns (MLD work per IPv6 address)
  auto again = nl->ensure_link("lb-custom");  // idempotent
  REQUIRE(again);
  CHECK(again->index == r->index);
  ns.run("ip link set lb-custom arp off multicast off");  // as a dummy is: no warning
  auto quiet = nl->ensure_link("lb-custom");
  REQUIRE(quiet);
  CHECK_FALSE(quiet->multicast);
}

TEST_CASE("add, list and remove IPv4 and IPv6 addresses with several prefix lengths", "[netlink][address]") {
  lb_namespace lb;
  enter in(lb.ns);
  auto nl = open_rtnl();
  auto link = nl->ensure_link("kube-lb0");
  REQUIRE(link);
  const std::vector<const char*> cidrs = {"192.0.2.10/32",   "198.51.100.1/24",   "203.0.113.5/28",
                                          "2001:db8::10/128", "2001:db8:1::1/64", "2001:db8:2::1/56"};
  for (const char* c : cidrs) {
    auto s = spec(c);
    s.nodad = s.address.is_v6();
    auto r = nl->add_address(*link, s);
    INFO(c << ": " << (r ? "" : r.error().message));
    REQUIRE(r);
    CHECK(*r == add_outcome::added);
  }
  auto have = nl->list_addresses(*link);
  REQUIRE(have);
  for (const char* c : cidrs) {
    INFO(c);
    CHECK(has(*have, c));
  }
  for (const auto& a : *have)
    if (!a.address.is_v6() || !a.address.to_v6().is_link_local()) CHECK(int(a.protocol) == int(nl->owner_protocol()));
  auto shown = lb.ns.run("ip addr show dev kube-lb0");
  for (const char* c : cidrs) CHECK_THAT(shown, Catch::Contains(std::string(c)));

  auto sub = nl->subnets(*link);
  REQUIRE(sub);
  CHECK(std::count(sub->begin(), sub->end(), subnet{boost::asio::ip::make_address("198.51.100.0"), 24}) == 1);
  CHECK(std::count(sub->begin(), sub->end(), subnet{boost::asio::ip::make_address("2001:db8:2::"), 56}) == 1);
  auto s24 = std::find(sub->begin(), sub->end(), subnet{boost::asio::ip::make_address("198.51.100.0"), 24});
  CHECK(s24->contains(boost::asio::ip::make_address("198.51.100.77")));
  CHECK_FALSE(s24->contains(boost::asio::ip::make_address("198.51.101.1")));

  for (const char* c : cidrs) {
    auto s = spec(c);
    auto r = nl->remove_address(*link, s.address, s.prefix_len);
    REQUIRE(r);
    CHECK(*r);
  }
  have = nl->list_addresses(*link);
  REQUIRE(have);
  for (const char* c : cidrs) CHECK_FALSE(has(*have, c));
  // Removing what is not there is not an error either.
  auto again = nl->remove_address(*link, spec("192.0.2.10/32").address, 32);
  REQUIRE(again);
  CHECK_FALSE(*again);
}

TEST_CASE("adding an address twice is not an error", "[netlink][address]") {
  lb_namespace lb;
  enter in(lb.ns);
  auto nl = open_rtnl();
  auto link = nl->ensure_link("kube-lb0");
  REQUIRE(link);
  for (const char* c : {"192.0.2.11/32", "2001:db8::11/128"}) {
    auto first = nl->add_address(*link, spec(c));
    REQUIRE(first);
    CHECK(*first == add_outcome::added);
    auto second = nl->add_address(*link, spec(c));
    REQUIRE(second);
    CHECK(*second == add_outcome::present);
  }
  auto shown = lb.ns.run("ip -o addr show dev kube-lb0");
  CHECK(std::count(shown.begin(), shown.end(), '\n') >= 2);
  auto lines = [&](const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t p = shown.find(needle); p != std::string::npos; p = shown.find(needle, p + 1)) ++n;
    return n;
  };
  CHECK(lines("192.0.2.11/32") == 1);
  CHECK(lines("2001:db8::11/128") == 1);
}

TEST_CASE("flags and lifetimes reach the kernel, and adding again renews them", "[netlink][address]") {
  lb_namespace lb;
  enter in(lb.ns);
  auto nl = open_rtnl();
  auto link = nl->ensure_link("kube-lb0");
  REQUIRE(link);
  auto v6 = spec("2001:db8::20/128");
  v6.nodad = true;
  v6.noprefixroute = true;
  v6.valid_lifetime = 300;
  v6.preferred_lifetime = 200;
  REQUIRE(nl->add_address(*link, v6));
  auto v4 = spec("192.0.2.20/32");
  v4.noprefixroute = true;
  v4.valid_lifetime = 400;
  v4.preferred_lifetime = 100;
  REQUIRE(nl->add_address(*link, v4));
  auto shown = lb.ns.run("ip -d addr show dev kube-lb0");
  INFO(shown);
  CHECK(std::regex_search(shown, std::regex(R"(inet 192\.0\.2\.20/32 .*noprefixroute)")));
  CHECK(std::regex_search(shown, std::regex(R"(192\.0\.2\.20/32[^\n]*\n\s+valid_lft (39\d|400)sec preferred_lft (9\d|100)sec)")));
  CHECK(std::regex_search(shown, std::regex(R"(inet6 2001:db8::20/128 .*nodad.*noprefixroute)")));
  CHECK(std::regex_search(shown, std::regex(R"(2001:db8::20/128[^\n]*\n\s+valid_lft (29\d|300)sec preferred_lft (19\d|200)sec)")));

  // Renewal: the same address with longer lifetimes updates them in place.
  v6.valid_lifetime = 900;
  v6.preferred_lifetime = 800;
  auto r = nl->add_address(*link, v6);
  REQUIRE(r);
  CHECK(*r == add_outcome::present);
  shown = lb.ns.run("ip -d addr show dev kube-lb0");
  INFO(shown);
  CHECK(std::regex_search(shown, std::regex(R"(2001:db8::20/128[^\n]*\n\s+valid_lft (89\d|900)sec preferred_lft (79\d|800)sec)")));
}

TEST_CASE("an operator's address survives reconciles and is never removed", "[netlink][ownership]") {
  lb_namespace lb;
  lb.ns.run("ip link set kube-lb0 up && ip addr add 192.0.2.99/32 dev kube-lb0 && "
            "ip addr add 2001:db8::99/128 dev kube-lb0 nodad && ip addr add 192.0.2.50/32 dev kube-lb0");
  enter in(lb.ns);
  boost::asio::io_context io;
  auto nl = open_rtnl();
  auto rec = std::make_shared<reconciler>(io.get_executor(), *nl, "kube-lb0");
  // 192.0.2.50 is desired but the operator's: kept, not claimed.
  auto r = rec->set_desired({spec("192.0.2.10/32"), spec("2001:db8::10/128"), spec("192.0.2.50/32")});
  REQUIRE(r);
  CHECK(r->added.size() == 2);
  REQUIRE(r->foreign_kept.size() == 1);
  CHECK(r->foreign_kept[0].address.to_string() == "192.0.2.50");
  CHECK(r->failures.empty());
  // on_link(): what the kernel now holds on the link, every owner's, without
  // another dump (the agent's check that a route's address is there).
  auto link = nl->find_link("kube-lb0");
  REQUIRE(link);
  auto same_as_kernel = [&] {
    auto now = nl->list_addresses(*link);
    REQUIRE(now);
    std::vector<std::string> kernel, known;
    for (const auto& a : *now) kernel.push_back(a.address.to_string());
    for (const auto& a : rec->on_link()) known.push_back(a.to_string());
    std::sort(kernel.begin(), kernel.end());
    std::sort(known.begin(), known.end());
    CHECK(known == kernel);
    return known.size();
  };
  CHECK(same_as_kernel() >= 5);  // 3 operator's + 2 Herald's (and the kernel's link-local, if any)

  r = rec->set_desired({});
  REQUIRE(r);
  CHECK(r->removed.size() == 2);
  CHECK(same_as_kernel() >= 3);
  auto have = nl->list_addresses(*link);
  REQUIRE(have);
  CHECK(has(*have, "192.0.2.99/32"));
  CHECK(has(*have, "2001:db8::99/128"));
  CHECK(has(*have, "192.0.2.50/32"));
  CHECK_FALSE(has(*have, "192.0.2.10/32"));
  CHECK_FALSE(has(*have, "2001:db8::10/128"));

  // The single-address calls refuse too, each naming link and address.
  auto rm = nl->remove_address(*link, spec("192.0.2.99/32").address, 32);
  REQUIRE_FALSE(rm);
  CHECK(rm.error().is(errc::not_owned));
  CHECK_THAT(rm.error().message, Catch::Contains("192.0.2.99/32") && Catch::Contains("kube-lb0"));
  auto add = nl->add_address(*link, spec("2001:db8::99/128"));
  REQUIRE_FALSE(add);
  CHECK(add.error().is(errc::exists));
  CHECK_THAT(add.error().message, Catch::Contains("2001:db8::99/128") && Catch::Contains("kube-lb0"));
  have = nl->list_addresses(*link);
  REQUIRE(have);
  CHECK(has(*have, "192.0.2.99/32"));
  CHECK(has(*have, "2001:db8::99/128"));
}

TEST_CASE("a restarted agent recognises its own addresses", "[netlink][ownership]") {
  lb_namespace lb;
  lb.ns.run("ip link set kube-lb0 up && ip addr add 198.51.100.99/32 dev kube-lb0");
  enter in(lb.ns);
  boost::asio::io_context io;
  {
    auto nl = open_rtnl();
    auto rec = std::make_shared<reconciler>(io.get_executor(), *nl, "kube-lb0");
    REQUIRE(rec->set_desired({spec("198.51.100.10/32"), spec("2001:db8::a/128"), spec("198.51.100.11/32")}));
  }  // the agent exits; the kernel keeps the addresses
  // Another program with another mark does not take them for its own.
  {
    rtnl_options other;
    other.owner_protocol = 99;
    auto nl = open_rtnl(other);
    auto rec = std::make_shared<reconciler>(io.get_executor(), *nl, "kube-lb0");
    auto r = rec->set_desired({});
    REQUIRE(r);
    CHECK(r->removed.empty());
  }
  auto nl = open_rtnl();  // the restarted agent
  auto rec = std::make_shared<reconciler>(io.get_executor(), *nl, "kube-lb0");
  auto r = rec->set_desired({spec("198.51.100.11/32")});
  REQUIRE(r);
  CHECK(r->added.empty());  // still there from before the restart
  REQUIRE(r->removed.size() == 2);
  auto link = nl->find_link("kube-lb0");
  REQUIRE(link);
  auto have = nl->list_addresses(*link);
  REQUIRE(have);
  CHECK(has(*have, "198.51.100.11/32"));
  CHECK(has(*have, "198.51.100.99/32"));  // the operator's
  CHECK_FALSE(has(*have, "198.51.100.10/32"));
  CHECK_FALSE(has(*have, "2001:db8::a/128"));
}

TEST_CASE("the reconciler applies the minimal difference", "[netlink][reconciler]") {
  lb_namespace lb;
  enter in(lb.ns);
  boost::asio::io_context io;
  auto nl = open_rtnl();
  auto rec = std::make_shared<reconciler>(io.get_executor(), *nl, "kube-lb0");
  auto r = rec->set_desired({spec("192.0.2.1/32"), spec("192.0.2.2/32"), spec("2001:db8::1/128")});
  REQUIRE(r);
  CHECK(r->added.size() == 3);
  r = rec->set_desired({spec("192.0.2.2/32"), spec("192.0.2.3/32"), spec("2001:db8::1/128")});
  REQUIRE(r);
  REQUIRE(r->added.size() == 1);
  CHECK(r->added[0].to_string() == "192.0.2.3/32");
  REQUIRE(r->removed.size() == 1);
  CHECK(r->removed[0].to_string() == "192.0.2.1/32");
  CHECK(r->renewed.empty());
  r = rec->reconcile();  // nothing to do
  REQUIRE(r);
  CHECK_FALSE(r->changed());
  // A new prefix length (a pool's aggregation changed) replaces the IPv6 address.
  r = rec->set_desired({spec("192.0.2.2/32"), spec("192.0.2.3/32"), spec("2001:db8::1/64")});
  REQUIRE(r);
  CHECK(r->removed.size() == 1);
  CHECK(r->added.size() == 1);
  auto link = nl->find_link("kube-lb0");
  auto have = nl->list_addresses(*link);
  REQUIRE(have);
  CHECK(has(*have, "2001:db8::1/64"));
  CHECK_FALSE(has(*have, "2001:db8::1/128"));
  // on_link() keeps an address replaced in place (removed, then added again).
  auto on_link = rec->on_link();
  CHECK(std::count(on_link.begin(), on_link.end(), spec("2001:db8::1/64").address) == 1);
  CHECK(on_link.size() == have->size());
  // A deprecated address (preferred lifetime 0, as local service addresses
  // are: never a source address) renews by its valid lifetime only; a
  // preferred lifetime that never "runs down" must not renew on every pass.
  auto deprecated = spec("192.0.2.7/32");
  deprecated.valid_lifetime = 20;
  deprecated.preferred_lifetime = 0;
  r = rec->set_desired({deprecated});
  REQUIRE(r);
  CHECK(r->added.size() == 1);
  r = rec->reconcile();
  REQUIRE(r);
  CHECK(r->renewed.empty());
  rec->stop();
}

TEST_CASE("add_desired adds without reading the link, and falls back to a pass when it must", "[netlink][reconciler]") {
  lb_namespace lb;
  lb.ns.run("ip link set kube-lb0 up && ip addr add 192.0.2.50/32 dev kube-lb0");  // the operator's
  enter in(lb.ns);
  boost::asio::io_context io;
  auto nl = open_rtnl();
  auto rec = std::make_shared<reconciler>(io.get_executor(), *nl, "kube-lb0");
  auto link = nl->find_link("kube-lb0");
  REQUIRE(link);
  auto kernel_has = [&](const char* cidr) {
    auto have = nl->list_addresses(*link);
    REQUIRE(have);
    return has(*have, cidr);
  };
  auto desired_text = [&] {
    std::vector<std::string> out;
    for (const auto& d : rec->desired()) out.push_back(d.to_string());
    std::sort(out.begin(), out.end());
    return out;
  };

  // Before any pass there is no view of the link: an ordinary pass.
  auto r = rec->add_desired({spec("192.0.2.1/32")});
  REQUIRE(r);
  CHECK(r->added.size() == 1);
  CHECK(kernel_has("192.0.2.1/32"));

  // Then one batch of additions; on_link() and desired() follow.
  r = rec->add_desired({spec("192.0.2.2/32"), spec("2001:db8::2/128")});
  REQUIRE(r);
  REQUIRE(r->added.size() == 2);
  CHECK(r->removed.empty());
  CHECK(kernel_has("192.0.2.2/32"));
  CHECK(kernel_has("2001:db8::2/128"));
  CHECK(desired_text() == std::vector<std::string>{"192.0.2.1/32", "192.0.2.2/32", "2001:db8::2/128"});
  auto have = nl->list_addresses(*link);
  REQUIRE(have);
  CHECK(rec->on_link().size() == have->size());

  // Already desired, or an operator's address on the link: a pass settles
  // it (nothing added twice, the operator's kept and reported).
  r = rec->add_desired({spec("192.0.2.2/32")});
  REQUIRE(r);
  CHECK_FALSE(r->changed());
  r = rec->add_desired({spec("192.0.2.50/32")});
  REQUIRE(r);
  REQUIRE(r->foreign_kept.size() == 1);
  CHECK(r->foreign_kept[0].address.to_string() == "192.0.2.50");

  // A view gone stale (an address appeared behind the reconciler's back,
  // its event not read): the kernel refuses the addition, and the pass that
  // follows reports it as the operator's, the other addition as added.
  lb.ns.run("ip addr add 192.0.2.60/32 dev kube-lb0");
  r = rec->add_desired({spec("192.0.2.3/32"), spec("192.0.2.60/32")});
  REQUIRE(r);
  REQUIRE(r->added.size() == 1);
  CHECK(r->added[0].to_string() == "192.0.2.3/32");
  std::vector<std::string> foreign;
  for (const auto& f : r->foreign_kept) foreign.push_back(f.address.to_string());
  std::sort(foreign.begin(), foreign.end());
  CHECK(foreign == std::vector<std::string>{"192.0.2.50", "192.0.2.60"});  // both desired, both the operator's
  CHECK(kernel_has("192.0.2.3/32"));

  // Bad input is refused whole, as by set_desired.
  auto bad = rec->add_desired({spec("192.0.2.4/32"), spec("224.0.0.1/32")});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().is(errc::invalid_argument));
  CHECK_FALSE(kernel_has("192.0.2.4/32"));
  rec->stop();
}

TEST_CASE("lookups: links by regex", "[netlink][lookup]") {
  netns ns("look");
  ns.run("ip link add hnl-v0 type veth peer name hnl-v1 && ip link add hnl-br7 type bridge");
  enter in(ns);
  auto nl = open_rtnl();
  auto m = nl->links_matching("hnl-v[0-9]+");
  REQUIRE(m);
  REQUIRE(m->size() == 2);
  std::vector<std::string> names{(*m)[0].name, (*m)[1].name};
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"hnl-v0", "hnl-v1"});
  CHECK((*m)[0].kind == "veth");
  CHECK((*m)[0].index < (*m)[1].index);
  auto none = nl->links_matching("eth[0-9]+");
  REQUIRE(none);
  CHECK(none->empty());
  auto bad = nl->links_matching("hnl-(");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().is(errc::invalid_argument));
  CHECK_THAT(bad.error().message, Catch::Contains("hnl-("));
}

TEST_CASE("lookups: the default-route interface is the one with the lowest metric", "[netlink][lookup]") {
  netns ns("route");
  ns.run("ip link add hnl-a0 type veth peer name hnl-a1 && ip link add hnl-b0 type veth peer name hnl-b1 && "
         "for l in hnl-a0 hnl-a1 hnl-b0 hnl-b1; do ip link set $l up; done && "
         "ip addr add 192.0.2.1/24 dev hnl-a0 && ip addr add 198.51.100.1/24 dev hnl-b0 && "
         "ip addr add 2001:db8:a::1/64 dev hnl-a0 nodad && ip addr add 2001:db8:b::1/64 dev hnl-b0 nodad");
  enter in(ns);
  auto nl = open_rtnl();
  auto none = nl->default_route_interface(family::ipv4);
  REQUIRE_FALSE(none);
  CHECK(none.error().is(errc::no_such_device));

  ns.run("ip route add default via 192.0.2.254 dev hnl-a0 metric 200 && "
         "ip route add default via 198.51.100.254 dev hnl-b0 metric 100 && "
         "ip -6 route add default via 2001:db8:a::ff dev hnl-a0 metric 50 && "
         "ip -6 route add default via 2001:db8:b::ff dev hnl-b0 metric 300");
  auto v4 = nl->default_route_interface(family::ipv4);
  REQUIRE(v4);
  CHECK(v4->name == "hnl-b0");
  auto v6 = nl->default_route_interface(family::ipv6);
  REQUIRE(v6);
  CHECK(v6->name == "hnl-a0");
  ns.run("ip route del default via 198.51.100.254 dev hnl-b0 metric 100");
  v4 = nl->default_route_interface(family::ipv4);
  REQUIRE(v4);
  CHECK(v4->name == "hnl-a0");
}

TEST_CASE("bad input is refused with a clear error and nothing half-applied", "[netlink][bad-input]") {
  lb_namespace lb;
  enter in(lb.ns);
  boost::asio::io_context io;
  auto nl = open_rtnl();
  auto link = nl->ensure_link("kube-lb0");
  REQUIRE(link);

  SECTION("interface names") {
    for (const char* name : {"", "kube-lb0-is-too-long", "a/b", "a b", "lb:0", ".."}) {
      INFO("name '" << name << "'");
      auto f = nl->ensure_link(name);
      REQUIRE_FALSE(f);
      CHECK(f.error().is(errc::invalid_argument));
      CHECK_THAT(f.error().message, Catch::Contains("interface name"));
    }
    auto missing = nl->find_link("hnl-absent0");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().is(errc::no_such_device));
    CHECK_THAT(missing.error().message, Catch::Contains("hnl-absent0"));
  }
  SECTION("addresses of the wrong family or shape") {
    auto parsed = address_spec::parse("192.0.2.1/64");
    REQUIRE_FALSE(parsed);
    CHECK_THAT(parsed.error().message, Catch::Contains("too long for IPv4"));
    CHECK_FALSE(address_spec::parse("192.0.2.1"));
    CHECK_FALSE(address_spec::parse("not-an-ip/32"));
    CHECK_FALSE(address_spec::parse("2001:db8::1/129"));

    address_spec wrong{boost::asio::ip::make_address("192.0.2.1"), 64};
    auto r = nl->add_address(*link, wrong);
    REQUIRE_FALSE(r);
    CHECK(r.error().is(errc::invalid_argument));
    CHECK_THAT(r.error().message, Catch::Contains("192.0.2.1/64") && Catch::Contains("kube-lb0") &&
                                      Catch::Contains("IPv4"));
    auto nodad4 = spec("192.0.2.1/32");
    nodad4.nodad = true;
    r = nl->add_address(*link, nodad4);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("IPv6 addresses only"));
    auto lifetimes = spec("2001:db8::5/128");
    lifetimes.valid_lifetime = 10;
    lifetimes.preferred_lifetime = 20;
    r = nl->add_address(*link, lifetimes);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("preferred lifetime"));
    auto rm = nl->remove_address(*link, boost::asio::ip::make_address("2001:db8::5"), 200);
    REQUIRE_FALSE(rm);
    CHECK(rm.error().is(errc::invalid_argument));

    // One bad entry in a desired set: nothing of the set is applied.
    auto rec = std::make_shared<reconciler>(io.get_executor(), *nl, "kube-lb0");
    auto s = rec->set_desired({spec("192.0.2.7/32"), wrong, spec("2001:db8::7/128")});
    REQUIRE_FALSE(s);
    CHECK(s.error().is(errc::invalid_argument));
    auto conflicting = rec->set_desired({spec("2001:db8::7/128"), spec("2001:db8::7/64")});
    REQUIRE_FALSE(conflicting);
    CHECK_THAT(conflicting.error().message, Catch::Contains("different settings"));
  }
  SECTION("a link that vanished") {
    link_info gone = *link;
    gone.index = 999999;
    gone.name = "hnl-gone";
    auto r = nl->add_address(gone, spec("192.0.2.8/32"));
    REQUIRE_FALSE(r);
    CHECK(r.error().is(errc::no_such_device));
    CHECK_THAT(r.error().message, Catch::Contains("192.0.2.8/32") && Catch::Contains("hnl-gone"));
  }
  auto have = nl->list_addresses(*link);
  REQUIRE(have);
  for (const auto& a : *have) CHECK(a.address.is_v6());  // at most the kernel's link-local
  CHECK(std::none_of(have->begin(), have->end(), [](const address_info& a) { return a.protocol != 0 && a.protocol != 3; }));
}
