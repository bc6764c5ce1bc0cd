#!/usr/bin/env python3
# End-to-end scenarios of issue 8, local addresses (docs/agent.md "Local
# addresses: election"): the emulator, the allocator and three agents in
# namespaces (e2e.Cluster), a client namespace on the nodes' bridge, and a
# `local` ServiceGroup whose pools are inside the nodes' subnets
# (192.0.2.200-192.0.2.220, 2001:db8::200-2001:db8::220). No BGP, no router.
#
#   python3 local.py
#
# Scenarios, for one IPv4 and one IPv6 Service at once:
#   elected   each address is on exactly one node's eth0, and stays there
#   announced the client's neighbour table points at that node's MAC without
#             the client asking (gratuitous ARP / unsolicited NA: the client
#             accepts untracked announcements, arp_accept / accept_untracked_na)
#   killed    the winners' agents SIGKILLed: a surviving node holds each
#             address within the node Lease duration (40 s) and the client's
#             entry moves to its MAC (announced, not re-resolved: the client
#             sends nothing meanwhile); the killed agents restart and the
#             addresses go back (rendezvous: the same winner again)
#   graceful  the winners' agents sent SIGTERM: the address moves within a
#             second (the agent releases it and deletes its Lease) and the
#             client's entry follows
# Exit: 0 pass, 1 fail, 77 skip (1 instead of 77 under CI=true).
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import e2e as E  # noqa: E402
import lab as L  # noqa: E402
from lab import holds_for, log, poll  # noqa: E402

POOLS = {4: ("192.0.2.200-192.0.2.220", "192.0.2.0/24"), 6: ("2001:db8::200-2001:db8::220", "2001:db8::/64")}
LEASE_DURATION = 40  # agent/runtime.hpp node_lease_duration
GRACEFUL_MOVE = 1.0  # seconds, issue 8


def setup_objects(c):
    c.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": E.NAMESPACE}})
    E.create_nodes(c, ipv6=True)
    c.create(f"/apis/herald.dev/v1/namespaces/{E.NAMESPACE}/servicegroups", {
        "apiVersion": "herald.dev/v1", "kind": "ServiceGroup", "metadata": {"name": "onlink"},
        "spec": {"local": {"v4pool": {"pool": POOLS[4][0], "subnet": POOLS[4][1], "aggregation": "default"},
                           "v6pool": {"pool": POOLS[6][0], "subnet": POOLS[6][1], "aggregation": "default"}}}})


def service(name, family):
    return E.web_service(name, annotations={"herald.dev/service-group": "onlink"},
                         ipFamilies=[f"IPv{family}"], ipFamilyPolicy="SingleStack")


def link_json(ns, *args):
    return json.loads(L.run("ip", "-j", *args, ns=ns) or "[]")


def holders(c, ip):
    """Names of the nodes with ip on eth0."""
    return holders_of(c, [ip])[ip]


def holders_of(c, ips):
    """{ip: names of the nodes with it on eth0}, one `ip addr` per node."""
    on = {n["name"]: {a["local"] for link in link_json(n["ns"], "addr", "show", "dev", "eth0")
                      for a in link.get("addr_info", [])} for n in c.nodes}
    return {ip: {name for name, local in on.items() if ip in local} for ip in ips}


def mac(ns):
    return link_json(ns, "link", "show", "dev", "eth0")[0]["address"]


def client_neighbour(cns, ip):
    """The client's neighbour entry for ip: (MAC, state) or None."""
    for e in link_json(cns, "neigh", "show", ip, "dev", "eth0"):
        if e.get("dst") == ip and "lladdr" in e:
            return e["lladdr"], ",".join(e.get("state", []))
    return None


def only_holder(c, ip):
    h = holders(c, ip)
    return next(iter(h)) if len(h) == 1 else None


def wait_ready(c, nodes):
    """Every agent in nodes answers /readyz and the three node Leases exist
    (before that, the election runs over fewer candidates). 120 s: on a
    loaded machine the emulator answered the first lists after 30-60 s."""
    for n in nodes:
        poll(f"{n['name']}'s agent ready", lambda n=n: c.agent_ready(n), 120)
    # With their subnets: the election counts only nodes whose Lease lists
    # the address's subnet, and the Lease gets it a moment after readiness.
    poll("three node Leases with their subnets", lambda: len([
        x for x in c.api("GET", f"/apis/coordination.k8s.io/v1/namespaces/{E.NAMESPACE}/leases")["items"]
        if x["metadata"]["name"].startswith("herald-node-")
        and x["metadata"].get("annotations", {}).get("herald.dev/subnets")]) == 3, 30)


def scenarios(c, cns):
    setup_objects(c)
    E.start_herald(c, router=False)
    wait_ready(c, c.nodes)
    by_name = {n["name"]: n for n in c.nodes}
    macs = {n["name"]: mac(n["ns"]) for n in c.nodes}
    ips = {}
    for fam in (4, 6):
        c.create("/api/v1/namespaces/default/services", service(f"web{fam}", fam))
        ips[fam] = poll(f"the allocator gives web{fam} an address", lambda fam=fam: c.service_ip(f"web{fam}"), 30)
    log(f"addresses: {ips}")

    log("elected: each address on exactly one node")
    winners = {}
    for fam, ip in ips.items():
        winners[fam] = poll(f"{ip} on exactly one node's eth0", lambda ip=ip: only_holder(c, ip), 30)
    holds_for("one holder each", lambda: all(only_holder(c, ip) == winners[f] for f, ip in ips.items()), 3)
    log(f"winners: {winners}")

    log("announced: the client's neighbour table points at the winner, unasked")
    for fam, ip in ips.items():
        poll(f"client's neighbour entry for {ip} with {winners[fam]}'s MAC",
             lambda fam=fam, ip=ip: (client_neighbour(cns, ip) or ("",))[0] == macs[winners[fam]], 10)

    log("killed: the winners' agents SIGKILLed")
    killed = set(winners.values())
    t0 = time.monotonic()
    for name in killed:
        by_name[name]["agent"].stop(signal.SIGKILL)
    took = {}
    for fam, ip in ips.items():
        # Never on two nodes: the killed agent's address lapses (its valid
        # lifetime) before the others see its Lease expire.
        new = poll(f"{ip} on a surviving node", lambda ip=ip: holders(c, ip) - killed, LEASE_DURATION + 10,
                   interval=0.05)
        took[fam] = time.monotonic() - t0
        if holders(c, ip) & killed:
            raise AssertionError(f"{ip} on {sorted(holders(c, ip))} at the takeover: the killed node still has it")
        new = next(iter(new))
        poll(f"client's entry for {ip} moved to {new}'s MAC",
             lambda ip=ip, new=new: (client_neighbour(cns, ip) or ("",))[0] == macs[new], 5)
        log(f"{ip}: {winners[fam]} -> {new} after {took[fam]:.1f} s; client entry {client_neighbour(cns, ip)}")
        poll(f"an AnnouncingNodesChanged Event on web{fam} naming {new}",
             lambda fam=fam, new=new: any(
                 e.get("reason") == "AnnouncingNodesChanged" and e["involvedObject"]["name"] == f"web{fam}"
                 and new in e.get("message", "")
                 for e in c.api("GET", "/api/v1/namespaces/default/events").get("items", [])), 15)
    log("killed: the agents restart; the addresses go back to the same winners")
    for name in killed:
        c.start_agent(by_name[name])
    wait_ready(c, [by_name[name] for name in killed])
    for fam, ip in ips.items():
        poll(f"{ip} back on {winners[fam]} only", lambda fam=fam, ip=ip: only_holder(c, ip) == winners[fam], 30)
        poll(f"client's entry for {ip} back to {winners[fam]}'s MAC",
             lambda fam=fam, ip=ip: (client_neighbour(cns, ip) or ("",))[0] == macs[winners[fam]], 5)

    log("graceful: the winners' agents sent SIGTERM")
    t0 = time.monotonic()
    for name in killed:
        by_name[name]["agent"].send(signal.SIGTERM)
    # Both families in each step (one `ip addr` per node), so neither
    # family's time includes polling for the other.
    moved = {}
    while len(moved) < len(ips) and time.monotonic() - t0 < 10:
        seen = holders_of(c, ips.values())
        now = time.monotonic()
        for fam, ip in ips.items():
            h = seen[ip]
            if fam not in moved and len(h) == 1 and winners[fam] not in h:
                moved[fam], took[fam] = next(iter(h)), now - t0
                log(f"{ip}: {winners[fam]} -> {moved[fam]} after {took[fam]:.2f} s")
        time.sleep(0.02)
    if len(moved) < len(ips):
        where = {ip: sorted(h) for ip, h in holders_of(c, ips.values()).items()}
        raise AssertionError(f"graceful stop: moved {moved} after 10 s; holders now {where}")
    for fam, ip in ips.items():
        poll(f"client's entry for {ip} moved to {moved[fam]}'s MAC",
             lambda fam=fam, ip=ip: (client_neighbour(cns, ip) or ("",))[0] == macs[moved[fam]], 5)
    for name in killed:
        rc = by_name[name]["agent"].stop(timeout=10)
        if rc != 0:
            raise AssertionError(f"{name}'s agent exited {rc} after SIGTERM")
    slow = {ips[f]: round(t, 2) for f, t in took.items() if t > GRACEFUL_MOVE}
    if slow:
        raise AssertionError(f"graceful stop moved addresses after more than {GRACEFUL_MOVE} s: {slow}")


def prepare(c):
    """The client on the nodes' bridge; it accepts announcements for addresses
    it never asked about, so its neighbour table shows the GARP / NA itself."""
    c.client = c.add_client()
    L.run("sysctl", "-qw", "net.ipv4.conf.eth0.arp_accept=1", "net.ipv6.conf.eth0.accept_untracked_na=1",
          ns=c.client)


def main(argv):
    # The router is never started: local addresses need no BGP.
    return E.run_cluster([argv[0], "bird"], "e2e-local", lambda c, _argv: scenarios(c, c.client),
                         tools=[], prepare=prepare)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
