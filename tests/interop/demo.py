#!/usr/bin/env python3
# The demo (README quick start, first command, via scripts/demo.sh): three
# nodes each run herald-speaker and announce the same service address; one
# router (BIRD, or FRR with --router frr) learns it from all three and puts
# one ECMP route in its kernel; a client behind the router spreads 300
# connections over the nodes; then a node fails and the route shrinks to two
# next hops. Everything runs in network namespaces this script creates and
# removes (also on Ctrl-C), on documentation addresses only.
#
#   python3 tests/interop/demo.py [--router bird|frr] [--keep]
#
# Until the node agent lands the nodes run the standalone speaker
# (docs/standalone.md) rather than herald-agent with Kubernetes.
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from interop import CLIENT, ROUTER_V4, ROUTER_V6, SERVER, VIP4, VIP6, Bench, TOOLS  # noqa: E402
from lab import poll  # noqa: E402
from speakers import herald_binary, require_speaker  # noqa: E402


def say(title, why=""):
    print(f"\n\033[1m== {title}\033[0m", flush=True)
    if why:
        print(f"   {why}", flush=True)


def show(cmd_text, output):
    print(f"$ {cmd_text}")
    print(output.rstrip() + "\n", flush=True)


def histogram(cns, vip, n=300):
    out = L.run(sys.executable, "-c", CLIENT, vip.split("/")[0], str(n), ns=cns).strip()
    counts = dict(kv.split("=") for kv in out.split())
    for name, c in sorted(counts.items()):
        print(f"   {name:8} {int(c):4}  {'#' * (int(c) // 5)}")
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1] if __doc__ else "")
    ap.add_argument("--router", choices=["bird", "frr"], default="bird")
    ap.add_argument("--keep", action="store_true", help="keep the lab running to explore it")
    args = ap.parse_args()
    if args.keep:
        os.environ["HIO_KEEP"] = "1"
    os.environ.setdefault("HERALD_INTEROP_SPEAKER", "herald")
    L.require_root_and_tools(["ip", "unshare"] + TOOLS[args.router])
    require_speaker()

    with L.Lab(f"demo-{args.router}") as lab:
        say("Building the lab", f"a {args.router} router, three nodes behind a switch, a client; "
            "hold time 3 s so a dead node is noticed quickly")
        bench = Bench(lab, args.router, ["v4-ebgp"] * 3, hold_time=3, multipath=True, kernel=True)
        cns = lab.netns("c")
        lab.veth(bench.rns, "cl0", cns, "eth0")
        lab.addr(bench.rns, "cl0", "203.0.113.1/24")
        lab.addr(bench.rns, "cl0", "2001:db8:ffff::1/64")
        lab.addr(cns, "eth0", "203.0.113.2/24")
        lab.addr(cns, "eth0", "2001:db8:ffff::2/64")
        lab.route(cns, "default", "203.0.113.1")
        lab.route(cns, "default", "2001:db8:ffff::1")
        for n in bench.nodes:
            # The service address on each node (herald-agent will put it on kube-lb0).
            lab.addr(n.ns, "lo", VIP4)
            lab.addr(n.ns, "lo", VIP6)
            lab.route(n.ns, "default", ROUTER_V4)
            lab.route(n.ns, "default", ROUTER_V6)
            lab.start(f"http{n.i}", n.ns, [sys.executable, "-c", SERVER, f"node-{n.i}",
                                           VIP4.split("/")[0], VIP6.split("/")[0]])
        bench.router.start()
        for n in bench.nodes:
            n.speaker = None
        bench.start_speakers(hold_time=3, prefixes=[VIP4, VIP6])
        bench.wait_established()

        say("herald-speaker on each node announces the service address with itself as next hop",
            f"node config (node-0): {json.dumps(bench.nodes[0].speaker.config['routes'])}")
        for vip in (VIP4, VIP6):
            want = {n.next_hop(vip) for n in bench.nodes}
            poll(f"{vip} with three next hops", lambda vip=vip, want=want: bench.router.fib(vip) == want, 30)
        say("The router's kernel route: one route, three equal-cost next hops (ECMP)")
        for vip, v in ((VIP4, "-4"), (VIP6, "-6")):
            show(f"ip {v} route show {vip.split('/')[0]}   # in the router",
                 L.run("ip", v, "route", "show", vip.split("/")[0], ns=bench.rns))

        say("What node-0's speaker reports (its --status-file)")
        st = bench.nodes[0].speaker.status()
        for addr, p in st.items():
            print(f"   peer {addr} AS{p['asn']}: {p['state']}, hold time {p['hold_time']} s, "
                  f"advertised {p['advertised']}, capabilities {', '.join(p['capabilities'])}")

        if shutil.which("gobgp") and os.environ.get("HERALD_INTEROP_SPEAKER") == "herald":
            say("The same, through the stock gobgp CLI (Herald serves GoBGP's gRPC API, docs/grpc.md)")
            for args_ in (["neighbor"], ["global", "rib"]):
                show(f"gobgp {' '.join(args_)}   # in node-0",
                     L.run("gobgp", *args_, ns=bench.nodes[0].ns, check=False))

        say("300 connections from the client to the service address spread over the nodes")
        histogram(cns, VIP4)

        victim = bench.nodes[2]
        say(f"node-2 fails: its link goes down",
            "the router stops hearing its keepalives and drops it after the 3 s hold time")
        L.run("ip", "link", "set", "eth0", "down", ns=victim.ns)
        want = {n.next_hop(VIP4) for n in bench.nodes[:2]}
        poll("route down to two next hops", lambda: bench.router.fib(VIP4) == want, 20)
        show(f"ip -4 route show {VIP4.split('/')[0]}   # in the router",
             L.run("ip", "-4", "route", "show", VIP4.split("/")[0], ns=bench.rns))
        say("300 more connections: only the two live nodes answer")
        histogram(cns, VIP4)

        if args.keep:
            say("The lab stays up. Explore it:")
            print(f"   ip netns exec {bench.rns} ip route                 # the router's routes")
            if args.router == "bird":
                print(f"   birdc -s {lab.path('bird.ctl')} show protocols   # the router's sessions "
                      "(see the lab directory for the socket)")
            for n in bench.nodes:
                print(f"   cat {n.speaker.status_file}   # node-{n.i}'s speaker status")
                print(f"   ip netns exec {n.ns} gobgp neighbor   # node-{n.i}'s speaker through its gRPC API")
            print(f"   {herald_binary()} --help")
        else:
            say("Done: cleaning up the namespaces and processes")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except L.Timeout as e:
        print(f"demo: {e}", file=sys.stderr)
        sys.exit(1)
