#!/usr/bin/env python3
# The demo (README quick start, first command, via scripts/demo.sh): Herald as
# it runs in a cluster, without a cluster. In network namespaces it creates a
# router (BIRD, or FRR with --router frr), three nodes each running
# herald-agent (NODE_NAME, informers, BGPPeers) and a client; beside the
# router, the API-server emulator and herald-allocator. It applies the
# example manifests (manifests/examples/) with the real kubectl, starts one
# HTTP responder per node for the Service `web`, then shows: the Services'
# EXTERNAL-IPs, the router's ECMP route, the stock gobgp CLI against one
# agent, 300 client requests spread over the nodes, and a node failure (BFD
# notices it, and the failed node's agent reports it on /metrics) shrinking
# the route to two next hops.
#
#   python3 tests/e2e/demo.py [--router bird|frr] [--keep]
#
# Everything runs in namespaces this script creates and removes (also on
# Ctrl-C; --keep leaves the lab up and prints how to explore it), on
# documentation addresses only. The router is configured from the example
# BGPPeer (ASNs, TCP MD5 password, BFD), so the examples are what is tested.
import argparse
import os
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import e2e as E  # noqa: E402
import lab as L  # noqa: E402
from lab import poll  # noqa: E402

EXAMPLES = os.path.join(E.ROOT, "manifests", "examples")


def say(title, why=""):
    print(f"\n\033[1m== {title}\033[0m", flush=True)
    if why:
        print(f"   {why}", flush=True)


def show(cmd_text, output):
    print(f"$ {cmd_text}")
    print(output.rstrip() + "\n", flush=True)


def example_peer():
    """The example BGPPeer for IPv4 and the password of its Secret: the router is configured to match."""
    with open(os.path.join(EXAMPLES, "bgppeer.yaml")) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    secret = next(d for d in docs if d["kind"] == "Secret")
    peer = next(d for d in docs if d["kind"] == "BGPPeer" and d["spec"]["peerAddress"] == E.ROUTER_V4)
    spec = peer["spec"]
    bfd = spec.get("bfd")
    return {
        "router_asn": spec["peerASN"], "node_asn": spec["myASN"],
        "password": secret["stringData"]["password"],
        "hold_time": int(str(spec.get("holdTime", "90s")).rstrip("s")),
        "bfd": bfd and {"min_tx": bfd["minTx"], "min_rx": bfd["minRx"], "multiplier": bfd["multiplier"]},
    }


def bfd_down_lines(node):
    """The node's herald_agent_bfd_session_* lines once they say a BFD
    session with the router went down and is not Up; None before."""
    text = L.run("curl", "-sS", "-m", "2", "http://127.0.0.1:7473/metrics", ns=node["ns"], check=False)
    lines = [ln for ln in text.splitlines() if ln.startswith("herald_agent_bfd_session")]
    up = [ln for ln in lines if ln.startswith("herald_agent_bfd_session_up{")]
    downs = [ln for ln in lines if ln.startswith("herald_agent_bfd_session_down_total{")]
    if up and any(ln.endswith(" 0") for ln in up) and any(not ln.endswith(" 0") for ln in downs):
        return lines
    return None


class Demo:
    def __init__(self, lab, router_kind, binaries):
        self.peer = example_peer()
        self.c = E.Cluster(lab, router_kind, binaries, ipv6_peers=True, **self.peer)
        self.lab, self.kind = lab, router_kind
        self.cns = self.c.add_routed_client("c")

    def kubectl(self, *args, check=True):
        return L.run("kubectl", "--kubeconfig", self.c.kubeconfig, *args, ns=self.c.rns, check=check)

    def start(self):
        c = self.c
        c.start_emulator()
        # What a cluster has before Herald is installed: its nodes.
        E.create_nodes(c, ipv6=True)
        say("kubectl applies the example manifests (manifests/examples/)",
            "ServiceGroups (pools), BGPPeers (the router, TCP MD5, BFD), an LBNodeAgent, Services")
        show("kubectl apply -f manifests/namespace.yaml",
             self.kubectl("apply", "-f", os.path.join(E.ROOT, "manifests", "namespace.yaml")))
        show("kubectl apply -k manifests/examples/", self.kubectl("apply", "-k", EXAMPLES))
        # The responders: one per node, as a Deployment's pods would be, and
        # the EndpointSlice the cluster's EndpointSlice controller would write.
        c.start_responders()
        c.create("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-demo", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [f"10.244.{n['i']}.10"], "nodeName": n["name"],
                           "conditions": {"ready": True}} for n in c.nodes],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
        say(f"Starting the {self.kind} router, herald-allocator and herald-agent on each node")
        c.router.start()
        c.start_allocator()
        for n in c.nodes:
            c.start_agent(n)

    def requests(self, ip, answering, count=300):
        """Sends count requests from the client and prints who answered; the
        demo doubles as a test (suite e2e), so the answer must be exactly the
        nodes in `answering`, with no failed request."""
        counts = self.c.requests(self.cns, ip, count)
        for name, k in counts.items():
            print(f"   {name:8} {int(k):4}  {'#' * (int(k) // 5)}")
        if set(counts) != set(answering):
            raise AssertionError(f"requests answered by {dict(counts)}, expected every one of {sorted(answering)}")


def main():
    ap = argparse.ArgumentParser(description="Herald's demo: agents, allocator, a router and a client in namespaces")
    ap.add_argument("--router", choices=["bird", "frr"], default="bird")
    ap.add_argument("--keep", action="store_true", help="keep the lab running to explore it")
    args = ap.parse_args()
    if args.keep:
        os.environ["HIO_KEEP"] = "1"
    L.require_root_and_tools(["ip", "unshare", "curl", "kubectl"] + E.TOOLS[args.router])
    binaries = {k: E.find_binary(rel) for k, rel in E.BINARIES.items()}
    missing = [E.BINARIES[k] for k, v in binaries.items() if not v]
    if missing:
        print(f"demo: not built: {', '.join(missing)} (scripts/demo.sh builds them)", file=sys.stderr)
        return 1

    with L.Lab(f"demo-{args.router}") as lab:
        say("Building the lab", f"a {args.router} router with a bridge to three nodes, a client behind the router")
        d = Demo(lab, args.router, binaries)
        c = d.c
        d.start()

        ip = poll("web's address", lambda: c.service_ip("web"), 60)
        prefix = f"{ip}/32"
        all_hops = {E.node_ip(n["i"]) for n in c.nodes}
        poll(f"{prefix} via three next hops", lambda: c.fib(prefix) == all_hops, 60)
        say("The allocator gave every LoadBalancer Service an address from its ServiceGroup")
        show("kubectl get svc -A", d.kubectl("get", "svc", "-A"))
        say("Every node put web's address on kube-lb0 and announced it by BGP: the router has one route "
            "with three equal-cost next hops (ECMP)")
        show(f"ip route show {ip}   # in the router", L.run("ip", "route", "show", ip, ns=c.rns))
        ip6 = c.service_ip("web-v6")
        if ip6:
            poll(f"{ip6}/128 via three next hops", lambda: len(c.fib(f"{ip6}/128")) == 3, 30)
            show(f"ip -6 route show {ip6}   # in the router", L.run("ip", "-6", "route", "show", ip6, ns=c.rns))

        say("The stock gobgp CLI against node-0's agent (Herald serves GoBGP's gRPC API on 127.0.0.1:50051)")
        for a in (["neighbor"], ["global", "rib"], ["global", "rib", "-a", "ipv6"]):
            show(f"gobgp {' '.join(a)}   # in node-0", L.run("gobgp", *a, ns=c.nodes[0]["ns"], check=False))

        say(f"300 HTTP requests from the client to http://{ip}/ : the router spreads them over the nodes")
        d.requests(ip, [n["name"] for n in c.nodes])

        victim = c.nodes[2]
        say("node-2 fails: its link goes down",
            "BFD (300 ms x 3, from the example BGPPeer) tells the router within about a second")
        failed_at = time.monotonic()
        L.run("ip", "link", "set", "eth0", "down", ns=victim["ns"])
        poll(f"{prefix} via two next hops", lambda: c.fib(prefix) == all_hops - {E.node_ip(2)}, 30)
        took = time.monotonic() - failed_at
        print(f"   the router dropped node-2 after {took:.2f} s (BGP hold time alone: {d.peer['hold_time']} s)")
        if took > 5:
            raise AssertionError(f"the route shrank after {took:.1f} s: BFD should have noticed within about 1 s")
        show(f"ip route show {ip}   # in the router", L.run("ip", "route", "show", ip, ns=c.rns))
        say("node-2's agent saw it too: its BFD session with the router went down (its /metrics)")
        bfd_lines = poll("node-2's agent reports its BFD session down", lambda: bfd_down_lines(victim), 10)
        show("curl -s 127.0.0.1:7473/metrics | grep ^herald_agent_bfd_session   # in node-2", "\n".join(bfd_lines))
        say("300 more requests: only the two live nodes answer")
        d.requests(ip, [n["name"] for n in c.nodes[:2]])

        if args.keep:
            say("The lab stays up. Explore it:")
            print(f"   ip netns exec {c.rns} kubectl --kubeconfig {c.kubeconfig} get svc -A -o wide")
            print(f"   ip netns exec {c.rns} ip route                 # the router's routes")
            for n in c.nodes:
                print(f"   ip netns exec {n['ns']} gobgp neighbor    # {n['name']}'s agent")
                print(f"   ip netns exec {n['ns']} ip addr show kube-lb0")
                print(f"   ip netns exec {n['ns']} curl -s 127.0.0.1:7473/metrics | head")
            print(f"   logs of every process: {lab.dir}")
            print("   (the line below says how to remove the lab)")
        else:
            say("Done: cleaning up the namespaces and processes")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (L.Timeout, AssertionError) as e:
        print(f"demo: {e}", file=sys.stderr)
        sys.exit(1)
