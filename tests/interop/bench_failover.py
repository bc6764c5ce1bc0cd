#!/usr/bin/env python3
# Failover benchmark of issue 10: how long a BIRD 2 or FRR 8 router keeps
# sending traffic to a herald-speaker node whose link was cut (its bridge
# port taken down, so the router sees no carrier loss): from the cut to the
# node's next hop leaving the router's kernel FIB, read from `ip monitor
# route` (bfd_failover.FailoverLab). Modes: BFD at 100 ms x 3, BFD at
# 300 ms x 3, and no BFD with a 3 s hold time. Prints p50 and max per
# router and mode; BENCHMARKS.md records the table.
#
#   python3 bench_failover.py [ROUTER...]     (default: bird frr)
#   HERALD_FAILOVER_RUNS=N                    runs per router and mode (default 20)
#   HERALD_FAILOVER_MODES=bfd-100x3,...       modes (default all)
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from bfd_failover import MODES, TOOLS, FailoverLab, detection_ms, require  # noqa: E402
from lab import log  # noqa: E402
from speakers import log_tail  # noqa: E402


def bench(router_kind, mode, runs):
    times = []
    with L.Lab(f"failover-{router_kind}-{mode}") as lab:
        fl = FailoverLab(lab, router_kind, mode)
        try:
            fl.settle()
            for n in range(runs):
                times.append(fl.failover_ms(0))
                log(f"{router_kind} {mode} run {n + 1}/{runs}: {times[-1]:.0f} ms")
                fl.restore(0)
                fl.settle(quiet=1.0)
        except (AssertionError, L.Timeout):
            for s in fl.speakers:
                log_tail(s, 30)
            raise
    return times


def main(argv):
    routers = argv[1:] or ["bird", "frr"]
    if any(r not in TOOLS for r in routers):
        print(f"usage: {argv[0]} [bird] [frr]", file=sys.stderr)
        return 2
    modes = [m for m in os.environ.get("HERALD_FAILOVER_MODES", ",".join(MODES)).split(",") if m]
    if not modes or any(m not in MODES for m in modes):
        print(f"HERALD_FAILOVER_MODES: choose from {', '.join(MODES)}", file=sys.stderr)
        return 2
    runs = int(os.environ.get("HERALD_FAILOVER_RUNS", "20"))
    for r in routers:
        require(r)
    rows = []
    t0 = time.monotonic()
    try:
        for r in routers:
            for m in modes:
                times = bench(r, m, runs)
                rows.append((r, m, detection_ms(m), len(times), statistics.median(times), min(times),
                             max(times)))
    except (AssertionError, L.Timeout) as e:
        print(f"FAIL after {time.monotonic() - t0:.0f}s: {e}", flush=True)
        return 1
    print(f"\nfailover: node link cut -> its next hop gone from the router's FIB "
          f"(herald-speaker nodes, {runs} runs each, {time.monotonic() - t0:.0f} s)")
    print(f"{'router':8} {'mode':10} {'detection ms':>12} {'runs':>5} {'p50 ms':>8} {'min ms':>8} {'max ms':>8}")
    for r, m, det, n, p50, lo, hi in rows:
        print(f"{r:8} {m:10} {det:12d} {n:5d} {p50:8.0f} {lo:8.0f} {hi:8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
