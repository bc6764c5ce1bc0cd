#!/usr/bin/env python3
# Benchmark 3 of issue 11 (BENCHMARKS.md "Failover: node cut → next hop
# gone"): the e2e cluster (emulator, allocator, three herald-agents, a BIRD or
# FRR router with ECMP into its kernel, e2e.Cluster) with one Service routed
# via all three nodes; a node is cut by taking its port on the router's
# bridge down (the router keeps carrier on br0, so only BFD or the BGP hold
# timer can tell), and the time runs until that node's next hop has left the
# router's kernel FIB.
#
#   python3 bench_node_failover.py ROUTER [RUNS] [MODE ...]
#       ROUTER: bird frr; RUNS per mode (default 5); MODE of
#       tests/interop/bfd_failover.py MODES (default bfd-100x3 hold-3s)
#
# BFD modes: the BGPPeer's `bfd` and the router's BFD at the same intervals,
# hold time 9 s; hold-3s: no BFD, holdTime 3s on both sides (keepalive 1 s).
# t0 is taken just before `ip link set down` (a process start, a few ms); the
# end is the `ip -o monitor route` event (router namespace, read by a thread)
# after which `ip route` no longer lists the node, as in bench_convergence.
# Between runs the link comes back and the benchmark waits until the three
# sessions and next hops have held for a second; the cut node rotates.
# Exit: 0 done, 1 failure, 77 skip (1 under CI=true).
import json
import sys
import time

import bench_convergence as bc
import e2e
from bfd_failover import MODES, detection_ms  # tests/interop, on the path through e2e
from lab import Timeout, log, poll

DEFAULT_MODES = ["bfd-100x3", "hold-3s"]
BFD_HOLD_TIME = 9


def mode_settings(mode):
    """(Cluster options, BGPPeer spec fields, hold time in s) of a mode."""
    bfd, hold = MODES[mode]
    hold = hold or BFD_HOLD_TIME
    peer = {"holdTime": f"{hold}s"}
    if bfd:
        peer["bfd"] = {"minTx": bfd["min_tx"], "minRx": bfd["min_rx"], "multiplier": bfd["multiplier"]}
    return {"bfd": bfd, "hold_time": hold}, peer, hold


def settle(c, prefix, hops, quiet=1.0, timeout=60):
    """Waits until every session is Established and prefix has all hops in
    the router's FIB for `quiet` seconds in a row."""
    end, since = time.monotonic() + timeout, None
    while time.monotonic() < end:
        ok = c.fib(prefix) == hops and all(c.router.established(h) for h in hops)
        now = time.monotonic()
        since = (since or now) if ok else None
        if since and now - since >= quiet:
            return
        time.sleep(0.05)
    raise Timeout(f"{prefix}: sessions and FIB not stable for {quiet}s within {timeout}s; FIB {c.fib(prefix)}")


def measure(c, mode, runs):
    _, peer, _ = mode_settings(mode)
    monitor, conn = bc.start(c, peer)
    hops = {e2e.node_ip(n["i"]) for n in c.nodes}
    times = []
    try:
        bc.request(conn, "POST", "/api/v1/namespaces/default/services",
                   json.dumps(e2e.web_service("failover")), want=201)
        ip = poll("failover has an address", lambda: c.service_ip("failover"), 30)
        prefix = f"{ip}/32"
        for run in range(runs):
            settle(c, prefix, hops)
            i = run % len(c.nodes)
            gone = e2e.node_ip(i)
            t0 = time.monotonic()
            e2e.L.run("ip", "-n", c.rns, "link", "set", f"n{i}", "down")
            t = monitor.wait_for(lambda p, h, deleted: p == ip and (deleted or gone not in h)
                                 and gone not in c.fib(prefix), detection_ms(mode) / 1e3 + 30, since=t0)[0]
            times.append((t - t0) * 1e3)
            log(f"{mode} run {run + 1}/{runs}: node-{i} cut, its next hop gone after {times[-1]:.0f} ms")
            e2e.L.run("ip", "-n", c.rns, "link", "set", f"n{i}", "up")
        settle(c, prefix, hops)
    finally:
        monitor.close()
    return times


def main(argv):
    if len(argv) < 2 or argv[1] not in e2e.TOOLS:
        print(f"usage: {argv[0]} bird|frr [RUNS] [MODE ...]", file=sys.stderr)
        return 2
    runs = int(argv[2]) if len(argv) > 2 else 5
    modes = argv[3:] or DEFAULT_MODES
    if any(m not in MODES for m in modes):
        print(f"modes: {', '.join(MODES)}", file=sys.stderr)
        return 2
    tools = e2e.TOOLS[argv[1]] + (["/usr/lib/frr/bfdd"] if argv[1] == "frr" else [])
    rows = []
    for mode in modes:
        cluster_args, _, hold = mode_settings(mode)
        got = []
        code = e2e.run_cluster(argv[:2], f"failover-{mode}", lambda c, _a, m=mode: got.extend(measure(c, m, runs)),
                               tools=tools, **cluster_args)
        if code:
            return code
        rows.append((mode, hold, got))
    print(f"command: sudo python3 tests/e2e/bench_node_failover.py {' '.join(argv[1:])}")
    print(f"router: {argv[1]}; node cut (its bridge port down) → its next hop gone from the router's kernel FIB")
    print("| mode | hold time | detection time | runs | p50 (ms) | max (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, hold, times in rows:
        p50, _, top = bc.percentiles(times)
        label = mode.replace("bfd-", "BFD ").replace("x", " ms × ") if mode.startswith("bfd") else "hold timer alone"
        print(f"| {label} | {hold} s | {detection_ms(mode)} ms | {len(times)} | {p50:.0f} | {top:.0f} |")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
