#!/usr/bin/env python3
# End-to-end scenarios of issue 7 (docs/agent.md): the API-server emulator
# (herald-kube-emulator), the allocator (herald-allocator) and three node
# agents (herald-agent), each node in its own network namespace on a bridge
# with a BIRD or FRR router that installs ECMP routes in its kernel.
#
#   python3 e2e.py ROUTER      ROUTER: bird frr
#
# Scenarios, in order, on one Service from a remote ServiceGroup
# (203.0.113.0/24, host routes):
#   cluster      externalTrafficPolicy Cluster: one route, three next hops
#   local        Local with ready endpoints on two nodes: two next hops
#   no-endpoints Local with zero endpoints: the route is withdrawn
#   restart      an agent killed and started again (graceful restart): the
#                router keeps that node's next hop throughout and the address
#                never leaves kube-lb0
#   delete       the Service deleted: its address leaves kube-lb0 on every
#                node and the route leaves the router
#   passive      the BGPPeer made passive: the sessions stay up (no
#                restart); the router restarted, the agents (listening on
#                [::]:179, as the DaemonSet's --bgp-listen=::) accept its
#                connections, and a new Service gets its three next hops
# Layout: the router namespace holds the bridge (192.0.2.1, 2001:db8::1), the
# emulator (listening on 192.0.2.1) and the allocator; nodes are 192.0.2.11-13.
# kube-lb0 is pre-created in each node as a bridge: this kernel has no dummy
# link type and the agent adopts an existing kube-lb0 of any type.
# Exit: 0 pass, 1 fail, 77 skip (1 instead of 77 under CI=true).
import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import lab as L  # noqa: E402
from lab import log, poll  # noqa: E402
from peers import ROUTERS, Neighbor  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
ROUTER_V4, ROUTER_V6 = "192.0.2.1", "2001:db8::1"
ROUTER_ASN, NODE_ASN = 65000, 65001
NAMESPACE = "herald-system"
NODES = [f"node-{i}" for i in range(3)]
TOOLS = {"bird": ["bird", "birdc"], "frr": ["/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "vtysh"]}
BINARIES = {
    "emulator": "tests/emulator/herald-kube-emulator",
    "allocator": "allocator/herald-allocator",
    "agent": "agent/herald-agent",
}


CLIENT_NET = ("198.51.100.129", "198.51.100.130", 25)  # router, client, length: outside every pool
CLIENT_NET6 = ("2001:db8:ffff::1", "2001:db8:ffff::2", 64)

# A node's HTTP responder: answers every GET on the ports given (default 80),
# IPv4 and IPv6, with the node's name. kube-proxy's part (Service port → a
# pod's targetPort) is left out: the responder listens on the Service port.
RESPONDER = r"""
import http.server, socket, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = sys.argv[1].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):  # IPv6 only: the IPv4 server has 0.0.0.0:port
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()
for port in [int(p) for p in sys.argv[2:]] or [80]:
    threading.Thread(target=S6(("::", port), H).serve_forever, daemon=True).start()
    threading.Thread(target=http.server.ThreadingHTTPServer(("0.0.0.0", port), H).serve_forever,
                     daemon=True).start()
threading.Event().wait()
"""

# COUNT requests to ADDRESS[:PORT], a new connection each: prints
# "node-0=N node-1=N ... failed=N" (who answered).
REQUESTS = r"""
import collections, sys, urllib.request
seen = collections.Counter()
host = sys.argv[1] if ":" not in sys.argv[1] else f"[{sys.argv[1]}]"
port = sys.argv[3] if len(sys.argv) > 3 else "80"
for _ in range(int(sys.argv[2])):
    try:
        seen[urllib.request.urlopen(f"http://{host}:{port}/", timeout=3).read().decode()] += 1
    except OSError:
        seen["failed"] += 1
print(" ".join(f"{k}={v}" for k, v in sorted(seen.items())))
"""


def node_ip(i):
    return f"192.0.2.{11 + i}"


def node_ip6(i):
    return f"2001:db8::{11 + i:x}"


def dummy_links_work(ns):
    """Whether this kernel has the dummy link type (the agent then creates
    kube-lb0 itself); where it has not, the test pre-creates kube-lb0 as a
    bridge, which the agent adopts."""
    L.run("ip", "link", "add", "hdummy0", "type", "dummy", ns=ns, check=False)
    if not L.run("ip", "link", "show", "hdummy0", ns=ns, check=False):
        return False
    L.run("ip", "link", "del", "hdummy0", ns=ns)
    return True


def find_binary(rel):
    """rel under HERALD_BUILD_DIR, meson's build dir (HERALD_MESON_BUILD_DIR)
    or the usual build directories of the checkout; None when not built."""
    dirs = [os.environ.get("HERALD_BUILD_DIR"), os.environ.get("HERALD_MESON_BUILD_DIR")]
    dirs += sorted(glob.glob(os.path.join(ROOT, "build*")))
    for d in filter(None, dirs):
        p = os.path.join(d, rel)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return os.path.abspath(p)
    return None


def require(router_kind, tools=None):
    """Skips (exit 77) unless root, the tools (default: the router's) and
    Herald's binaries are there; the binaries' paths."""
    L.require_root_and_tools(["ip", "unshare", "curl"] + (TOOLS[router_kind] if tools is None else tools))
    binaries = {k: find_binary(rel) for k, rel in BINARIES.items()}
    missing = [BINARIES[k] for k, v in binaries.items() if not v]
    if missing:
        L.skip(f"not built yet: {', '.join(missing)} (build them, or set HERALD_BUILD_DIR)")
    return binaries


class Cluster:
    """The emulator, the allocator, three agents and the router."""

    def __init__(self, lab, router_kind, binaries, router_asn=ROUTER_ASN, node_asn=NODE_ASN,
                 password=None, bfd=None, ipv6_peers=False, hold_time=9):
        """password, bfd (peers.Neighbor's form) and ipv6_peers shape the
        router's side of the sessions; the BGPPeers applied must agree."""
        self.lab, self.bin = lab, binaries
        self.rns = lab.netns("r")
        lab.bridge(self.rns, "br0")
        lab.addr(self.rns, "br0", f"{ROUTER_V4}/24")
        lab.addr(self.rns, "br0", f"{ROUTER_V6}/64")
        self.nodes = []
        for i, name in enumerate(NODES):
            ns = lab.netns(f"n{i}")
            lab.veth(self.rns, f"n{i}", ns, "eth0")
            lab.enslave(self.rns, f"n{i}", "br0")
            lab.addr(ns, "eth0", f"{node_ip(i)}/24")
            lab.addr(ns, "eth0", f"{node_ip6(i)}/64")
            lab.route(ns, "default", ROUTER_V4)
            lab.route(ns, "default", ROUTER_V6)
            if not dummy_links_work(ns):
                # Made like a dummy (NOARP, no multicast): with multicast on,
                # every IPv6 address would also join its solicited-node group,
                # kernel work (MLD) a real kube-lb0 never does.
                L.run("ip", "link", "add", "kube-lb0", "type", "bridge", ns=ns)
                L.run("ip", "link", "set", "kube-lb0", "arp", "off", "multicast", "off", ns=ns)
            self.nodes.append({"name": name, "ns": ns, "i": i, "agent": None})
        for n in self.nodes:
            lab.wait_reachable(n["ns"], ROUTER_V4)
        addresses = [node_ip(n["i"]) for n in self.nodes]
        if ipv6_peers:
            addresses += [node_ip6(n["i"]) for n in self.nodes]
        nbs = [Neighbor(a, node_asn, password=password, hold_time=hold_time, bfd=bfd) for a in addresses]
        self.router = ROUTERS[router_kind](lab, self.rns, nbs, multipath=True, kernel=True, asn=router_asn)
        self.kubeconfig = None
        # Hooks for tests/e2e/security.py: extra emulator flags, headers on
        # the test's own API requests (a token), a kubeconfig per binary
        # ("allocator", "agent"; default the emulator's) and extra flags for
        # both Herald binaries.
        self.emulator_args, self.api_headers, self.kubeconfigs, self.herald_args = [], [], {}, []

    def add_client(self, short="c", v4="192.0.2.50/24", v6="2001:db8::50/64"):
        """A client namespace on br0, on the nodes' own subnet (local addresses
        are reached there without a router); returns its name."""
        ns = self.lab.netns(short)
        self.lab.veth(self.rns, short, ns, "eth0")
        self.lab.enslave(self.rns, short, "br0")
        self.lab.addr(ns, "eth0", v4)
        self.lab.addr(ns, "eth0", v6)
        return ns

    def add_routed_client(self, short="cl"):
        """A client namespace behind the router, on its own link (CLIENT_NET,
        CLIENT_NET6): it reaches remote Service addresses through the
        router's ECMP routes, as a client outside the cluster does; its name."""
        ns = self.lab.netns(short)
        self.lab.veth(self.rns, f"{short}0", ns, "eth0")
        for router, client, length in (CLIENT_NET, CLIENT_NET6):
            self.lab.addr(self.rns, f"{short}0", f"{router}/{length}")
            self.lab.addr(ns, "eth0", f"{client}/{length}")
            self.lab.route(ns, "default", router)
        return ns

    def start_responders(self, ports=(80,)):
        """One HTTP responder per node (RESPONDER) on ports, both families."""
        for n in self.nodes:
            self.lab.start(f"web-{n['name']}", n["ns"],
                           [sys.executable, "-c", RESPONDER, n["name"]] + [str(p) for p in ports])
        # Listening before anything is routed to them: a Service can converge
        # at the router in a few ms, sooner than a Python server starts.
        for n in self.nodes:
            for p in ports:
                poll(f"{n['name']}'s responder listening on port {p} (IPv4 and IPv6)", lambda n=n, p=p: len(
                    L.run("ss", "-Hltn", f"sport = :{p}", ns=n["ns"]).strip().splitlines()) >= 2, 20)

    def requests(self, cns, ip, count, port=80):
        """count HTTP requests from cns to ip:port, a new connection each:
        {answering node or "failed": count}."""
        out = L.run(sys.executable, "-c", REQUESTS, ip, str(count), str(port), ns=cns, timeout=120).strip()
        return {k: int(v) for k, v in (kv.split("=") for kv in out.split())}

    # --- the API server -----------------------------------------------------
    def start_emulator(self):
        state = self.lab.path("emulator")
        os.makedirs(state, exist_ok=True)
        self.lab.start("emulator", self.rns, [self.bin["emulator"], "--listen", ROUTER_V4, "--state-dir", state,
                                              "--crds", os.path.join(ROOT, "manifests", "crds"),
                                              *self.emulator_args])
        self.kubeconfig = poll("emulator kubeconfig", lambda: os.path.exists(f"{state}/url") and
                               os.path.exists(f"{state}/kubeconfig") and f"{state}/kubeconfig", 20)
        with open(f"{state}/url") as f:
            self.url = f.read().strip()
        log(f"emulator at {self.url}")

    def api(self, method, path, body=None, content_type="application/json", check=True, retry_s=0):
        """One request to the emulator from the router namespace; the JSON reply.
        retry_s > 0: a dropped connection, 429 or 5xx (injected faults) is
        retried for that long before it counts."""
        args = ["curl", "-sS", "-X", method, "-H", f"Content-Type: {content_type}", "-w", "\n%{http_code}",
                self.url + path]
        if body is not None:
            args[1:1] = ["--data-binary", "@-"]
        for h in self.api_headers:
            args[1:1] = ["-H", h]
        deadline = time.monotonic() + retry_s
        while True:
            try:
                out = L.run(*args, ns=self.rns, input=json.dumps(body) if body is not None else None)
            except subprocess.CalledProcessError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)
                continue
            text, _, code = out.rpartition("\n")
            if not (code == "429" or code.startswith("5")) or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if check and not code.startswith("2"):
            raise AssertionError(f"{method} {path}: HTTP {code}: {text[:500]}")
        return json.loads(text) if text.strip() else {}

    def create(self, path, obj):
        return self.api("POST", path, obj)

    def patch(self, path, patch):
        return self.api("PATCH", path, patch, "application/merge-patch+json")

    # --- Herald -------------------------------------------------------------
    def start_allocator(self, identity="allocator", http_port=7472):
        """One allocator replica in the router namespace (replicas need their
        own identity and port); returns its Proc (also self.allocator)."""
        self.allocator = self.lab.start(identity, self.rns, [
            self.bin["allocator"], "--kubeconfig", self.kubeconfigs.get("allocator", self.kubeconfig),
            "--namespace", NAMESPACE, "--identity", identity, "--http", f"127.0.0.1:{http_port}",
            "--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "1", *self.herald_args])
        return self.allocator

    def start_agent(self, n):
        n["agent"] = self.lab.start(f"agent-{n['name']}", n["ns"], [
            self.bin["agent"], "--kubeconfig", self.kubeconfigs.get("agent", self.kubeconfig), "--node-name",
            n["name"], "--namespace", NAMESPACE, "--http", "127.0.0.1:7473", "--grpc", "127.0.0.1:50051",
            "--bgp-listen", "::", "--drain", "1", *self.herald_args])  # listening, as the DaemonSet

    # --- observations ---------------------------------------------------------
    def fib(self, prefix):
        return self.router.fib(prefix)

    def agent_ready(self, n):
        """Whether n's agent answers /readyz with ok."""
        return L.run("curl", "-sf", "http://127.0.0.1:7473/readyz", ns=n["ns"], check=False).strip() == "ok"

    def lb_addresses(self, n):
        """Node n's addresses on kube-lb0 but the kernel's own IPv6 link-local
        one (the pre-created bridge gets it when it comes up)."""
        out = L.run("ip", "-j", "addr", "show", "dev", "kube-lb0", ns=n["ns"])
        return {f"{a['local']}/{a['prefixlen']}" for link in json.loads(out or "[]") for a in link.get("addr_info", [])
                if a.get("scope") != "link"}

    def service_ips(self, name):
        """The Service's ingress addresses, in status order."""
        svc = self.api("GET", f"/api/v1/namespaces/default/services/{name}")
        return [i["ip"] for i in svc.get("status", {}).get("loadBalancer", {}).get("ingress", [])]

    def service_ip(self, name):
        ips = self.service_ips(name)
        return ips[0] if ips else None

    def diagnose(self):
        """Tails of every process log, for a failure message."""
        parts = []
        for p in list(self.lab.procs):
            tail = "\n".join(p.output().splitlines()[-15:])
            parts.append(f"--- {p.name} ({'running' if p.alive() else f'exited {p.popen.returncode}'}):\n{tail}")
        return "\n".join(parts)


def create_nodes(c, ipv6=False):
    """The Node objects, with their IPv4 (and IPv6) InternalIPs."""
    for n in c.nodes:
        addresses = [node_ip(n["i"])] + ([node_ip6(n["i"])] if ipv6 else [])
        c.create("/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n["name"], "labels": {"kubernetes.io/hostname": n["name"]}},
            "status": {"addresses": [{"type": "InternalIP", "address": a} for a in addresses],
                       "conditions": [{"type": "Ready", "status": "True"}]}})


V4_POOL = {"pool": "203.0.113.0/24", "subnet": "203.0.113.0/24", "aggregation": "/32"}
V6_POOL = {"pool": "2001:db8:100::/120", "subnet": "2001:db8:100::/64", "aggregation": "/128"}


def setup_objects(c, ipv6=False, peer=None, group=None):
    """The namespace, the Nodes and the remote ServiceGroup "default" with
    V4_POOL, and the BGPPeer to the router's IPv4 address; with ipv6 the
    Nodes have IPv6 addresses too, the group also V6_POOL and the one
    session carries both families (IPv6 routes with the nodes' IPv6 next
    hops). group: the group's spec instead; peer: fields that replace or
    add to the BGPPeer's spec (e.g. holdTime, bfd)."""
    c.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    create_nodes(c, ipv6)
    c.create(f"/apis/herald.dev/v1/namespaces/{NAMESPACE}/servicegroups", {
        "apiVersion": "herald.dev/v1", "kind": "ServiceGroup", "metadata": {"name": "default"},
        "spec": group or {"remote": {"v4pool": V4_POOL, **({"v6pool": V6_POOL} if ipv6 else {})}}})
    c.create(f"/apis/herald.dev/v1/namespaces/{NAMESPACE}/bgppeers", {
        "apiVersion": "herald.dev/v1", "kind": "BGPPeer", "metadata": {"name": "router"},
        "spec": {"peerAddress": ROUTER_V4, "peerASN": ROUTER_ASN, "myASN": NODE_ASN, "holdTime": "9s",
                 "connectRetryTime": "1s",
                 "families": ["ipv4-unicast"] + (["ipv6-unicast"] if ipv6 else []), **(peer or {})}})


def endpoint_slice(nodes_with_endpoints):
    eps = [{"addresses": [f"10.0.{i}.{k + 1}"], "nodeName": name, "conditions": {"ready": True}}
           for i, name in enumerate(NODES) for k in range(nodes_with_endpoints.get(name, 0))]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4", "endpoints": eps, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def web_service(name="web", policy="Cluster", annotations=None, port=80, **spec):
    """A LoadBalancer Service in `default` (spec: extra fields, e.g. ipFamilies)."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                     "ports": [{"name": "http", "port": port, "targetPort": 8080, "protocol": "TCP"}],
                     "selector": {"app": name}, **spec}}


def start_herald(c, router=True):
    """The router (unless router=False), the allocator and the three agents."""
    if router:
        c.router.start()
    c.start_allocator()
    for n in c.nodes:
        c.start_agent(n)


def scenarios(c):
    setup_objects(c)
    start_herald(c)
    c.create("/api/v1/namespaces/default/services", web_service())
    c.create("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", endpoint_slice({}))
    ip = poll("the allocator gives web an address", lambda: c.service_ip("web"), 30)
    prefix = f"{ip}/32"
    all_hops = {node_ip(n["i"]) for n in c.nodes}
    log(f"web has {ip}")

    log("cluster: three next hops")
    poll(f"{prefix} via three next hops", lambda: c.fib(prefix) == all_hops, 60)
    for n in c.nodes:
        poll(f"{prefix} on kube-lb0 of {n['name']}", lambda n=n: prefix in c.lb_addresses(n), 10)

    log("local: endpoints on node-0 and node-1, two next hops")
    c.api("PUT", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-1",
          endpoint_slice({"node-0": 1, "node-1": 2}))
    c.patch("/api/v1/namespaces/default/services/web", {"spec": {"externalTrafficPolicy": "Local"}})
    poll(f"{prefix} via node-0 and node-1", lambda: c.fib(prefix) == {node_ip(0), node_ip(1)}, 30)

    log("no-endpoints: the route is withdrawn")
    c.api("PUT", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-1", endpoint_slice({}))
    poll(f"{prefix} gone from the router's FIB", lambda: not c.fib(prefix), 30)
    poll(f"{prefix} gone from the router's RIB", lambda: c.router.route(prefix) is None, 30)

    log("restart: back to Cluster, then node-0's agent killed and started again")
    c.patch("/api/v1/namespaces/default/services/web", {"spec": {"externalTrafficPolicy": "Cluster"}})
    poll(f"{prefix} via three next hops again", lambda: c.fib(prefix) == all_hops, 60)
    node0 = c.nodes[0]
    problems = []
    stop = threading.Event()

    def watch():
        # The router's FIB and node-0's kube-lb0, every 50 ms, for the whole restart.
        while not stop.is_set():
            hops = c.fib(prefix)
            if node_ip(0) not in hops:
                problems.append(f"{time.strftime('%H:%M:%S')} router next hops {sorted(hops)} lack node-0")
            if prefix not in c.lb_addresses(node0):
                problems.append(f"{time.strftime('%H:%M:%S')} {prefix} left node-0's kube-lb0")
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        node0["agent"].stop(signal.SIGKILL)
        time.sleep(1)
        c.start_agent(node0)
        poll("node-0's session established again", lambda: c.router.established(node_ip(0)), 60)
        # Past End-of-RIB: stale paths not re-announced would be flushed now.
        time.sleep(5)
    finally:
        stop.set()
        watcher.join()
    if problems:
        raise AssertionError("restart withdrew the route:\n" + "\n".join(problems[:10]))
    if c.fib(prefix) != all_hops:
        raise AssertionError(f"after the restart the router has {sorted(c.fib(prefix))}")

    log("delete: the address leaves every kube-lb0 and the router")
    c.api("DELETE", "/api/v1/namespaces/default/services/web")
    poll(f"{prefix} gone from the router's FIB", lambda: not c.fib(prefix), 30)
    for n in c.nodes:
        poll(f"{prefix} gone from kube-lb0 of {n['name']}", lambda n=n: prefix not in c.lb_addresses(n), 30)

    log("passive: the BGPPeer made passive (sessions stay up); after a router restart only the router connects")
    restarted = "configuration changed, restarting the session"
    before = [n["agent"].output().count(restarted) for n in c.nodes]
    c.patch(f"/apis/herald.dev/v1/namespaces/{NAMESPACE}/bgppeers/router", {"spec": {"passive": True}})
    # Passive only shapes the next connection: the Established sessions
    # take it in place, no restart, nothing withdrawn.
    poll("every agent took passive on its Established session",
         lambda: all("now passive" in n["agent"].output() for n in c.nodes), 30)
    if [n["agent"].output().count(restarted) for n in c.nodes] != before:
        raise AssertionError("an agent restarted its session for passive")
    c.router.restart()  # the agents wait; the router connects to their listeners
    c.router.wait_established([node_ip(n["i"]) for n in c.nodes], timeout=60)
    c.create("/api/v1/namespaces/default/services", web_service("web-passive"))
    ip = poll("the allocator gives web-passive an address", lambda: c.service_ip("web-passive"), 30)
    poll(f"{ip}/32 via three next hops over the accepted sessions", lambda: c.fib(f"{ip}/32") == all_hops, 60)


def run_cluster(argv, tag, scenarios_fn, usage_extra="", tools=None, prepare=None, **cluster_args):
    """The common main of the e2e scripts: argv[1] names the router; skips
    unless root, tools (default: the router's) and binaries are there; builds
    a Lab and a Cluster (cluster_args: Cluster's options), calls prepare(c)
    (extra namespaces, sysctls), starts the emulator and runs
    scenarios_fn(cluster, argv); failures carry every process's log tail.
    The exit code (0, 1, 77; 2 for bad usage)."""
    if len(argv) < 2 or argv[1] not in TOOLS:
        print(f"usage: {argv[0]} bird|frr{usage_extra}", file=sys.stderr)
        return 2
    router_kind = argv[1]
    binaries = require(router_kind, tools)
    with L.Lab(f"{tag}-{router_kind}") as lab:
        c = Cluster(lab, router_kind, binaries, **cluster_args)
        if prepare:
            prepare(c)
        c.start_emulator()

        def body():
            try:
                scenarios_fn(c, argv)
            except AssertionError as e:
                raise AssertionError(f"{e}\n{c.diagnose()}") from None
        return L.run_checks(body)


def main(argv):
    if len(argv) != 2:
        argv = argv[:1]
    return run_cluster(argv, "e2e", lambda c, _argv: scenarios(c))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
