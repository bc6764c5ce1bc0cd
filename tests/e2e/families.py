#!/usr/bin/env python3
# End-to-end scenarios of issue 11 (docs/agent.md "Tests"): address families
# and shared addresses, on e2e.Cluster (the emulator, the allocator, three
# agents, a BIRD or FRR router installing ECMP routes in its kernel) with an
# HTTP responder on every node and a client behind the router.
#
#   python3 families.py ROUTER      ROUTER: bird frr
#
# The remote ServiceGroup "default" has an IPv4 pool (203.0.113.0/24) and an
# IPv6 pool (2001:db8:100::/120), host routes; the one BGPPeer session (to
# 192.0.2.1) carries both families, IPv6 routes with the nodes' IPv6 next
# hops (2001:db8::b-d).
#   ipv6      an IPv6-only Service (ipFamilies [IPv6]): the router's /128 has
#             the three nodes' IPv6 next hops; the client's requests over
#             IPv6 are answered by all three nodes
#   dual      a RequireDualStack and a PreferDualStack Service: each gets one
#             address of each family, both routes with three next hops, both
#             answered by all three nodes
#   shared    two Services with the same herald.dev/allow-shared-ip key and
#             ports 80 and 8081: one address, one route; both ports
#             answered; one Service deleted, the route stays; both deleted,
#             it is withdrawn
# Exit: 0 pass, 1 fail, 77 skip (1 instead of 77 under CI=true).
import ipaddress
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import e2e as E  # noqa: E402
from lab import holds_for, log, poll  # noqa: E402

SERVICES = "/api/v1/namespaces/default/services"
REQUESTS = 60  # per address: each node answers some (a node left out: (2/3)^60 * 3 ≈ 1e-10)
SHARED_PORTS = (80, 8081)


def host_prefix(ip):
    return f"{ip}/{ipaddress.ip_address(ip).max_prefixlen}"


def all_hops(c, ip):
    """Every node's next hop of ip's family."""
    node = E.node_ip6 if ipaddress.ip_address(ip).version == 6 else E.node_ip
    return {node(n["i"]) for n in c.nodes}


def routed_by_all(c, ip):
    """Waits until the router's FIB has ip's host route via every node."""
    prefix = host_prefix(ip)
    poll(f"{prefix} via {sorted(all_hops(c, ip))}", lambda: c.fib(prefix) == all_hops(c, ip), 60)


def answered_by_all(c, ip, port=80):
    """REQUESTS requests from the client, none failed, every node answering."""
    got = c.requests(c.client, ip, REQUESTS, port)
    log(f"http://{ip} port {port}: {got}")
    if set(got) != set(E.NODES):
        raise AssertionError(f"requests to {ip} port {port} answered by {got}, expected all of {E.NODES}")


def ipv6_only(c):
    log("ipv6: an IPv6-only Service")
    c.create(SERVICES, E.web_service("web6", ipFamilies=["IPv6"], ipFamilyPolicy="SingleStack"))
    ips = poll("the allocator gives web6 an address", lambda: c.service_ips("web6"), 30)
    if len(ips) != 1 or ipaddress.ip_address(ips[0]).version != 6:
        raise AssertionError(f"web6 got {ips}, expected one IPv6 address")
    routed_by_all(c, ips[0])
    answered_by_all(c, ips[0])


def dual_stack(c, name, policy):
    log(f"dual: a {policy} Service")
    c.create(SERVICES, E.web_service(name, ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy=policy))
    ips = poll(f"the allocator gives {name} two addresses", lambda: len(c.service_ips(name)) == 2 and
               c.service_ips(name), 30)
    if sorted(ipaddress.ip_address(ip).version for ip in ips) != [4, 6]:
        raise AssertionError(f"{name} got {ips}, expected one address of each family")
    for ip in ips:
        routed_by_all(c, ip)
    for ip in ips:
        answered_by_all(c, ip)


def shared(c):
    log("shared: two Services, one sharing key, ports 80 and 8081")
    key = {"herald.dev/allow-shared-ip": "web-pair"}
    for name, port in zip(("sa", "sb"), SHARED_PORTS):
        c.create(SERVICES, E.web_service(name, annotations=key, port=port))
    ips = {name: poll(f"the allocator gives {name} an address", lambda name=name: c.service_ip(name), 30)
           for name in ("sa", "sb")}
    if ips["sa"] != ips["sb"]:
        raise AssertionError(f"the Services sharing a key got different addresses: {ips}")
    ip = ips["sa"]
    prefix = host_prefix(ip)
    routed_by_all(c, ip)
    paths = c.router.routes(prefix)
    if len(paths) != len(c.nodes):
        raise AssertionError(f"the shared address should be one route with a path per node: {paths}")
    for port in SHARED_PORTS:
        answered_by_all(c, ip, port)
    log("shared: sa deleted, the route stays for sb")
    c.api("DELETE", f"{SERVICES}/sa")
    poll("sa gone", lambda: "sa" not in {s["metadata"]["name"] for s in c.api("GET", SERVICES)["items"]}, 10)
    holds_for(f"{prefix} via every node", lambda: c.fib(prefix) == all_hops(c, ip), 3, interval=0.05)
    if c.service_ip("sb") != ip:
        raise AssertionError(f"sb's address changed from {ip} to {c.service_ip('sb')} when sa was deleted")
    answered_by_all(c, ip, SHARED_PORTS[1])
    log("shared: sb deleted, the route is withdrawn")
    c.api("DELETE", f"{SERVICES}/sb")
    poll(f"{prefix} gone from the router's FIB", lambda: not c.fib(prefix), 30)
    poll(f"{prefix} gone from the router's RIB", lambda: c.router.route(prefix) is None, 30)
    for n in c.nodes:
        poll(f"{prefix} gone from kube-lb0 of {n['name']}", lambda n=n: prefix not in c.lb_addresses(n), 30)


def scenarios(c):
    E.setup_objects(c, ipv6=True)
    c.start_responders(SHARED_PORTS)
    E.start_herald(c)
    ipv6_only(c)
    dual_stack(c, "webd", "RequireDualStack")
    dual_stack(c, "webp", "PreferDualStack")
    shared(c)


def prepare(c):
    c.client = c.add_routed_client()


def main(argv):
    return E.run_cluster(argv[:2] if len(argv) == 2 else argv[:1], "e2e-families",
                         lambda c, _argv: scenarios(c), prepare=prepare)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
