#!/usr/bin/env python3
# End-to-end "bad input" scenarios of issue 7 (docs/agent.md), on e2e.Cluster
# (the emulator, herald-allocator, three herald-agents, a BIRD or FRR router).
# The router wants a TCP MD5 password from every node, on IPv4 and IPv6.
#
#   python3 bad_input.py ROUTER      ROUTER: bird frr
#
# Baseline: BGPPeer `router` (IPv4, the right password from a Secret) and a
# Cluster Service `web`: three next hops. node-2's BGP port is taken before
# its agent starts (another daemon's socket, as Calico's BIRD would hold it):
# the agent logs that it runs without a listener, reports
# herald_agent_bgp_listener_up 0 (the others 1), and its outgoing session
# carries web's third next hop. Then, in order, each checking that
# web's route keeps its three next hops throughout:
#   unreachable   BGPPeer to 198.51.100.1, where nothing answers: each agent
#                 logs the failing session naming the BGPPeer and 198.51.100.1;
#                 its status stays Accepted; a new Service still converges
#   password      BGPPeer `router-v6` to 2001:db8::1 with a wrong password:
#                 the router never establishes it; each agent logs it; a
#                 BGPPeer whose Secret lacks the key: status Accepted=False
#                 PasswordUnavailable; its Secret switched to one with the
#                 key and back while the API server answers 1 s late: the
#                 status ends as the latest plan says
#   invalid-asn   peerASN 0: refused by the API server (the CRD schema) with
#                 the field named; with the schema relaxed (a server that does
#                 not validate), the agents report InvalidBGPPeer naming
#                 spec.peerASN (Event, log, status Accepted=False) and keep
#                 the rest
#   group-deleted the ServiceGroup deleted under live Services: addresses and
#                 routes kept, GroupUnavailable warning on the Services
#   api-outage    every API request answered 503 and every connection dropped
#                 (emulator fault switches) for HERALD_E2E_OUTAGE_S seconds
#                 (default 60: the agent's behaviour changes at 15 s, when it
#                 freezes its Lease clock, and at the 40 s Lease duration, so
#                 the full minute is what is tested): the route and kube-lb0
#                 addresses never leave; afterwards a new Service converges
#                 and a deleted one is withdrawn
# Exit: 0 pass, 1 fail, 77 skip (1 instead of 77 under CI=true).
import base64
import os
import sys
import threading
import time

import e2e
from e2e import L, NAMESPACE, log, poll

PASSWORD = "herald-e2e-md5"
UNREACHABLE = "198.51.100.1"
PEERS = f"/apis/herald.dev/v1/namespaces/{NAMESPACE}/bgppeers"
CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/bgppeers.herald.dev"


def secret(name, password):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NAMESPACE},
            "data": {"password": base64.b64encode(password.encode()).decode()}}


def bgp_peer(name, address, families, password_secret=None, peer_asn=e2e.ROUTER_ASN):
    spec = {"peerAddress": address, "peerASN": peer_asn, "myASN": e2e.NODE_ASN, "holdTime": "9s",
            "connectRetryTime": "1s", "families": families}
    if password_secret:
        spec["password"] = {"secretRef": {"name": password_secret}}
    return {"apiVersion": "herald.dev/v1", "kind": "BGPPeer", "metadata": {"name": name}, "spec": spec}


def events(c, ns, reason, about=None):
    """Messages of the Events with this reason in namespace ns (about the
    object named `about` if given)."""
    items = c.api("GET", f"/api/v1/namespaces/{ns}/events").get("items", [])
    return [e.get("message", "") for e in items if e.get("reason") == reason and
            about in (None, e.get("involvedObject", {}).get("name"))]


def accepted(c, name):
    """(status, reason) of BGPPeer name's Accepted condition, or None."""
    peer = c.api("GET", f"{PEERS}/{name}", check=False)
    for cond in peer.get("status", {}).get("conditions", []):
        if cond.get("type") == "Accepted":
            return cond.get("status"), cond.get("reason")
    return None


def expect_status(c, name, status, reason):
    poll(f"BGPPeer {name}'s status says Accepted={status} ({reason})",
         lambda: accepted(c, name) == (status, reason), 30)
    log(f"  status: BGPPeer {name} Accepted={status} ({reason})")


def agent_log_line(c, *parts):
    """node-0's first log line containing every one of parts, when every
    agent's log has one (every agent logs every diagnostic, docs/agent.md);
    else None."""
    found = [next((line for line in n["agent"].output().splitlines() if all(p in line for p in parts)), None)
             for n in c.nodes]
    return found[0] if all(found) else None


def expect_logged(c, what, *parts, timeout=30):
    line = poll(f"every agent logs {what} (a line with {parts})", lambda: agent_log_line(c, *parts), timeout)
    log(f"  logged: {line.strip()[:200]}")


class RouteGuard:
    """Watches, every 50 ms until stopped, that prefix has all_hops in the
    router's FIB and is on every node's kube-lb0; collects the lapses."""

    def __init__(self, c, prefix, all_hops):
        self.c, self.prefix, self.all_hops = c, prefix, all_hops
        self.problems, self.stop_flag = [], threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        while not self.stop_flag.is_set():
            hops = self.c.fib(self.prefix)
            if hops != self.all_hops:
                self.problems.append(f"{time.strftime('%H:%M:%S')} router next hops {sorted(hops)}")
            for n in self.c.nodes:
                if self.prefix not in self.c.lb_addresses(n):
                    self.problems.append(f"{time.strftime('%H:%M:%S')} {self.prefix} left {n['name']}'s kube-lb0")
            time.sleep(0.05)

    def check(self, what):
        """Stops watching; raises if the route or an address ever lapsed."""
        self.stop_flag.set()
        self.thread.join()
        if self.problems:
            raise AssertionError(f"{what}: {self.prefix} lapsed:\n" + "\n".join(self.problems[:10]))


def service_converges(c, name, all_hops):
    """Creates a Cluster Service; waits for its route with all_hops; the prefix."""
    c.create("/api/v1/namespaces/default/services", e2e.web_service(name))
    ip = poll(f"the allocator gives {name} an address", lambda: c.service_ip(name), 60)
    prefix = f"{ip}/32"
    poll(f"{name}'s {prefix} via three next hops", lambda: c.fib(prefix) == all_hops, 60)
    return prefix


def unreachable_peer(c, all_hops):
    log(f"unreachable: BGPPeer to {UNREACHABLE}")
    c.create(PEERS, bgp_peer("unreachable", UNREACHABLE, ["ipv4-unicast"]))
    # Session logs name the BGPPeer and its address (bgp::peer_config description).
    expect_logged(c, f"the session to {UNREACHABLE} failing", f"peer BGPPeer {NAMESPACE}/unreachable ({UNREACHABLE} ",
                  "connect-failed")
    expect_status(c, "unreachable", "True", "Accepted")  # valid: unreachable is a runtime state
    service_converges(c, "web-2", all_hops)
    for n in c.nodes:
        if not c.router.established(e2e.node_ip(n["i"])):
            raise AssertionError(f"the router's session with {n['name']} went down")


def wrong_password(c):
    log("password: BGPPeer router-v6 with a wrong password")
    c.create(f"/api/v1/namespaces/{NAMESPACE}/secrets", secret("wrong-password", "not-" + PASSWORD))
    c.create(PEERS, bgp_peer("router-v6", e2e.ROUTER_V6, ["ipv6-unicast"], "wrong-password"))
    # The router drops badly signed SYNs silently (RFC 2385): the agent sees
    # only connection attempts that are never answered.
    expect_logged(c, f"its session to {e2e.ROUTER_V6} unanswered",
                  f"peer BGPPeer {NAMESPACE}/router-v6 ({e2e.ROUTER_V6} ", "no answer")
    L.holds_for("the router never establishes a wrong-password session",
                lambda: not any(c.router.established(e2e.node_ip6(n["i"])) for n in c.nodes), 10)
    # A Secret without the key: every node ignores the peer, and says so in its status.
    c.create(f"/api/v1/namespaces/{NAMESPACE}/secrets",
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "no-key"}, "data": {}})
    c.create(PEERS, bgp_peer("keyless", "198.51.100.3", ["ipv4-unicast"], "no-key"))
    expect_status(c, "keyless", "False", "PasswordUnavailable")
    # Two plans while the writer's status patch is unanswered (the API server
    # applies it at once, answers 1 s late): the second plan's write waits
    # for it, then the writer writes the latest plan's status, not the first.
    def use_secret(name):
        c.patch(f"{PEERS}/keyless", {"spec": {"password": {"secretRef": {"name": name}}}})

    c.api("POST", "/_emulator/delay?ms=1000")
    try:
        first = threading.Thread(target=use_secret, args=("wrong-password",))  # plan 1: Accepted
        first.start()
        time.sleep(0.3)
        use_secret("no-key")  # plan 2, the first status patch still unanswered: PasswordUnavailable
        first.join()
    finally:
        c.api("POST", "/_emulator/delay?ms=0")
    expect_status(c, "keyless", "False", "PasswordUnavailable")


def invalid_asn(c, all_hops):
    log("invalid-asn: peerASN 0")
    reply = c.api("POST", PEERS, bgp_peer("bad-asn", "198.51.100.2", ["ipv4-unicast"], peer_asn=0), check=False)
    if "peerASN" not in reply.get("message", ""):
        raise AssertionError(f"the API server took peerASN 0: {reply}")
    log(f"  the API server refused it: {reply['message'][:160]}")
    # A server that does not validate (an old CRD without a schema): the agents
    # are the last line.
    crd = c.api("GET", CRD)
    version = crd["spec"]["versions"][0]
    version["schema"] = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    version.pop("additionalPrinterColumns", None)
    c.api("PUT", CRD, crd)
    poll("the relaxed CRD takes peerASN 0",
         lambda: c.api("POST", PEERS, bgp_peer("bad-asn", "198.51.100.2", ["ipv4-unicast"], peer_asn=0),
                       check=False).get("metadata", {}).get("name") == "bad-asn", 10)
    poll("an InvalidBGPPeer Event on bad-asn naming spec.peerASN",
         lambda: any("spec.peerASN" in m for m in events(c, NAMESPACE, "InvalidBGPPeer", "bad-asn")), 30)
    expect_logged(c, "bad-asn invalid", "spec.peerASN")
    expect_status(c, "bad-asn", "False", "InvalidBGPPeer")
    service_converges(c, "web-3", all_hops)


def group_deleted(c, prefixes, all_hops):
    log("group-deleted: ServiceGroup default deleted under live Services")
    group_path = f"/apis/herald.dev/v1/namespaces/{NAMESPACE}/servicegroups/default"
    group = c.api("GET", group_path)
    guard = RouteGuard(c, prefixes[0], all_hops)
    try:
        c.api("DELETE", group_path)
        poll("a GroupUnavailable warning on web", lambda: events(c, "default", "GroupUnavailable", "web"), 30)
        expect_logged(c, "the missing group", "GroupUnavailable")
        time.sleep(3)
    finally:
        guard.check("ServiceGroup deleted")
    for p in prefixes[1:]:
        if c.fib(p) != all_hops:
            raise AssertionError(f"{p} lost next hops after the group was deleted: {sorted(c.fib(p))}")
    for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        group["metadata"].pop(k, None)
    group.pop("status", None)
    c.create(f"/apis/herald.dev/v1/namespaces/{NAMESPACE}/servicegroups", group)


def api_outage(c, prefixes, all_hops):
    seconds = float(os.environ.get("HERALD_E2E_OUTAGE_S", "60"))
    log(f"api-outage: every request 503 and every connection dropped for {seconds:.0f} s")
    guard = RouteGuard(c, prefixes[0], all_hops)
    try:
        c.api("POST", "/_emulator/fail?code=503&count=100000000")
        c.api("POST", "/_emulator/drop")
        time.sleep(seconds)
        c.api("POST", "/_emulator/reset-faults")
        back = time.monotonic()
        log("  API back")
        expect_logged(c, "the failing Lease renewal", "cannot renew Lease")
        expect_logged(c, "the API back", "API server reachable again")
        # The informers retry with a backoff capped at 30 s (docs/kube.md):
        # a change can wait that long after the outage.
        prefix = service_converges(c, "after-outage", all_hops)
        log(f"  after-outage converged {time.monotonic() - back:.1f} s after the API came back")
        c.api("DELETE", "/api/v1/namespaces/default/services/web-2")
        poll(f"web-2's {prefixes[1]} withdrawn after the outage", lambda: not c.fib(prefixes[1]), 60)
    finally:
        guard.check("API outage")
    if c.fib(prefix) != all_hops:
        raise AssertionError(f"after-outage's {prefix} lost next hops")


# Binds [::]:179 without SO_REUSEADDR and never listens: the agent's bind
# fails (EADDRINUSE) and the router's connections are refused.
PORT_SQUATTER = ("import socket, time\n"
                 "s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)\n"
                 "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n"
                 "s.bind(('::', 179))\n"
                 "print('bound', flush=True)\n"
                 "time.sleep(3600)\n")


def listener_up(c, n):
    """n's herald_agent_bgp_listener_up, or None while it has no such sample."""
    text = L.run("curl", "-sS", "-m", "2", "http://127.0.0.1:7473/metrics", ns=n["ns"], check=False)
    return next((float(line.split()[1]) for line in text.splitlines()
                 if line.startswith("herald_agent_bgp_listener_up ")), None)


def listener_taken(c, all_hops, web):
    log("listener-taken: node-2's agent runs without its BGP listener")
    n = c.nodes[2]
    expect_line = "running without a BGP listener"
    poll(f"{n['name']}'s agent logs '{expect_line}'", lambda: expect_line in n["agent"].output(), 30)
    for m in c.nodes:
        want = 0.0 if m is n else 1.0
        poll(f"{m['name']}: herald_agent_bgp_listener_up {want:.0f}", lambda m=m, want=want: listener_up(c, m) == want,
             30)
    if c.fib(web) != all_hops:
        raise AssertionError(f"{web} via {sorted(c.fib(web))}: node-2's outgoing session should carry its next hop")


def scenarios(c):
    e2e.setup_objects(c)
    c.create(f"/api/v1/namespaces/{NAMESPACE}/secrets", secret("router-password", PASSWORD))
    c.patch(f"{PEERS}/router", {"spec": {"password": {"secretRef": {"name": "router-password"}}}})
    squatter = c.lab.start("port-179-squatter", c.nodes[2]["ns"], ["python3", "-c", PORT_SQUATTER])
    poll("node-2's BGP port taken", lambda: "bound" in squatter.output(), 10)
    e2e.start_herald(c)
    all_hops = {e2e.node_ip(n["i"]) for n in c.nodes}
    log("baseline: web via three next hops")
    web = service_converges(c, "web", all_hops)
    expect_status(c, "router", "True", "Accepted")
    listener_taken(c, all_hops, web)
    guard = RouteGuard(c, web, all_hops)
    try:
        unreachable_peer(c, all_hops)
        wrong_password(c)
        invalid_asn(c, all_hops)
    finally:
        guard.check("bad BGPPeers")
    prefixes = [web, f"{c.service_ip('web-2')}/32", f"{c.service_ip('web-3')}/32"]
    group_deleted(c, prefixes, all_hops)
    api_outage(c, prefixes, all_hops)


if __name__ == "__main__":
    sys.exit(e2e.run_cluster(sys.argv[:2] if len(sys.argv) == 2 else sys.argv[:1], "e2e-bad",
                             lambda c, _argv: scenarios(c), password=PASSWORD, ipv6_peers=True))
