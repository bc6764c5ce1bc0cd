#!/usr/bin/env python3
# End-to-end scenario and benchmark 4 of issue 11 (BENCHMARKS.md "Rolling
# restart under requests"): every agent restarted, one after another, while a
# client sends a steady stream of HTTP requests to the Service address.
# e2e.Cluster (the emulator, the allocator, three agents with --drain 1, a
# BIRD or FRR router installing ECMP routes in its kernel), an HTTP responder
# on every node and a client behind the router.
#
#   python3 rolling.py ROUTER [POLICY...] [--sigterm|--sigkill]
#       ROUTER: bird frr; POLICY: Cluster Local (default both); both signals
#       unless one is named
#
# For each externalTrafficPolicy (Local: one ready endpoint on every node)
# and each signal, with the route on all three next hops and the client
# sending a request on a new connection every 20 ms, each agent in turn gets
# the signal: SIGTERM (graceful shutdown: GRACEFUL_SHUTDOWN community, 1 s
# drain, withdraw, Cease; it must exit 0) or SIGKILL (the router's graceful
# restart keeps the node's path: no next-hop change and no failed request
# allowed). The router sees its session go, the agent is started again and
# must answer /readyz, with its session back, a fresh (not stale) path at the
# router and its next hop in the router's FIB, before the next one goes. The
# router's FIB is read every 50 ms. Asserts: the route never left the FIB,
# and every failed request falls within 0.5 s of a next-hop change there. Such
# failures are the router's ECMP rehash (Linux hash-threshold: a next hop
# leaving or coming back moves some open connections to a node that never saw
# them, which resets them): with a request every 20 ms, about one in five
# rounds of SIGTERM restarts has one (BENCHMARKS.md). Prints one line per
# round (the benchmark's figures):
#   rolling-restart: router=bird policy=Cluster signal=SIGTERM requests=N failed=F route_absent=0
#     nexthop_drops=K nexthop_returns=K duration=S   (one line)
# nexthop_drops / _returns count the next hops that left / came back to the
# FIB between two reads (SIGTERM withdraws the node's path: 3 each per round;
# SIGKILL: 0).
# Exit: 0 pass, 1 fail, 77 skip (1 instead of 77 under CI=true).
import json
import os
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import e2e as E  # noqa: E402
from lab import log, poll  # noqa: E402

POLICIES = ("Cluster", "Local")
SIGNALS = (signal.SIGTERM, signal.SIGKILL)
REQUEST_INTERVAL = 0.02  # s between requests, each on a new connection
FIB_INTERVAL = 0.05  # s between reads of the router's FIB
# A failed request this close (s) to a next-hop change at the router is the
# router's ECMP rehash moving an open connection to a node that never saw it.
CHANGE_WINDOW = 0.5

# ADDRESS INTERVAL STOPFILE: a GET on a new connection every INTERVAL seconds
# until STOPFILE exists; then one JSON line: requests, failed, by node, the
# first failures.
STREAM = r"""
import collections, json, os, sys, time, urllib.request
url, interval, stop = f"http://{sys.argv[1]}/", float(sys.argv[2]), sys.argv[3]
seen, failures, n = collections.Counter(), [], 0
next_at = time.monotonic()
while not os.path.exists(stop):
    n += 1
    try:
        seen[urllib.request.urlopen(url, timeout=2).read().decode()] += 1
    except OSError as e:
        seen["failed"] += 1
        failures.append([time.time(), str(e)])
    next_at += interval
    time.sleep(max(0.0, next_at - time.monotonic()))
print(json.dumps({"requests": n, "failed": seen.pop("failed", 0), "by_node": seen, "failures": failures}),
      flush=True)
"""


class FibWatch:
    """Reads prefix's next hops in the router's FIB every FIB_INTERVAL until
    stopped: how often the route was absent, how many next hops left and
    came back, and when the next hops changed (wall clock)."""

    def __init__(self, c, prefix):
        self.c, self.prefix = c, prefix
        self.route_absent, self.nexthop_drops, self.nexthop_returns, self.reads = 0, 0, 0, 0
        self.changes = []  # (time.time(), hops before, hops after)
        self.error = None
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        try:
            self._watch()
        except Exception as e:  # noqa: BLE001: reported by stop(), not lost with the thread
            self.error = e

    def _watch(self):
        last = self.c.fib(self.prefix)
        while not self.stop_flag.wait(FIB_INTERVAL):
            hops = self.c.fib(self.prefix)
            self.reads += 1
            if not hops and last:
                self.route_absent += 1
            self.nexthop_drops += len(last - hops)
            self.nexthop_returns += len(hops - last)
            if hops != last:
                self.changes.append((time.time(), last, hops))
            last = hops

    def stop(self):
        """Stops watching; raises if a read of the FIB failed."""
        self.stop_flag.set()
        self.thread.join()
        if self.error:
            raise AssertionError(f"reading the router's FIB failed: {self.error!r}")


def restart_agent(c, n, prefix, sig):
    """sig (SIGTERM: exit 0; SIGKILL), the router sees the session go, start
    again, /readyz, the session back with a fresh (not stale) path via the
    node, and the node's next hop in the router's FIB."""
    hop = E.node_ip(n["i"])
    rc = n["agent"].stop(sig, timeout=20)
    if sig == signal.SIGTERM and rc != 0:
        raise AssertionError(f"{n['name']}'s agent exited {rc} after SIGTERM")
    poll(f"the router sees {n['name']}'s session go", lambda: not c.router.established(hop), 10, interval=0.02)
    c.start_agent(n)
    poll(f"{n['name']}'s agent ready again", lambda: c.agent_ready(n), 60)
    poll(f"{n['name']}'s session established again", lambda: c.router.established(hop), 60)
    poll(f"a fresh path via {n['name']} at the router", lambda: any(
        hop in r.next_hops and not r.stale for r in c.router.routes(prefix)), 60)
    poll(f"{n['name']}'s next hop back in the router's FIB", lambda: hop in c.fib(prefix), 60)


def unexplained(failures, changes):
    """The failed requests not within CHANGE_WINDOW of a next-hop change."""
    return [f for f in failures if not any(abs(f[0] - t) <= CHANGE_WINDOW for t, _, _ in changes)]


def rolling_restart(c, router_kind, policy, ip, sig):
    """Restarts every agent with sig under the client's stream; the figures (dict)."""
    prefix = f"{ip}/32"
    all_hops = {E.node_ip(n["i"]) for n in c.nodes}
    poll(f"{prefix} via three next hops", lambda: c.fib(prefix) == all_hops, 60)
    for n in c.nodes:
        poll(f"{n['name']}'s agent ready", lambda n=n: c.agent_ready(n), 60)
    stop_file = c.lab.path(f"stop-{policy}-{sig.name}")
    client = c.lab.start(f"stream-{policy}-{sig.name}", c.client,
                         [sys.executable, "-c", STREAM, ip, str(REQUEST_INTERVAL), stop_file])
    time.sleep(1)  # the stream runs before the first restart
    watch = FibWatch(c, prefix)
    t0 = time.monotonic()
    try:
        for n in c.nodes:
            log(f"{policy}: restarting {n['name']}'s agent ({sig.name})")
            restart_agent(c, n, prefix, sig)
        time.sleep(1)
    finally:
        duration = time.monotonic() - t0
        open(stop_file, "w").close()
        client.popen.wait(10)
        watch.stop()
    result = json.loads(client.output().strip().splitlines()[-1])
    figures = {"router": router_kind, "policy": policy, "signal": sig.name, "requests": result["requests"],
               "failed": result["failed"], "route_absent": watch.route_absent,
               "nexthop_drops": watch.nexthop_drops, "nexthop_returns": watch.nexthop_returns,
               "duration": f"{duration:.1f}"}
    print("rolling-restart: " + " ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    changes = [f"{t % 60:06.3f} {sorted(before)} -> {sorted(after)}" for t, before, after in watch.changes]
    failures = [f"{t % 60:06.3f} {what}" for t, what in result["failures"]]
    log(f"answered by {result['by_node']}; {watch.reads} FIB reads; next hop changes (s in the minute): {changes}; "
        f"failed requests: {failures}")
    if watch.route_absent:
        raise AssertionError(f"rolling restart ({policy}): the route left the router's FIB {watch.route_absent} "
                             f"times; next hop changes {changes}")
    if sig == signal.SIGKILL and (result["failed"] or watch.changes):
        raise AssertionError(f"rolling restart ({policy}, SIGKILL): graceful restart should keep every path: "
                             f"{result['failed']} of {result['requests']} requests failed {failures}; "
                             f"next hop changes {changes}")
    if unexplained(result["failures"], watch.changes):
        raise AssertionError(f"rolling restart ({policy}): {result['failed']} of {result['requests']} requests "
                             f"failed, not all when the router's next hops changed: {failures}; "
                             f"next hop changes {changes}")
    return figures


def scenarios(c, argv):
    signals = [sig for sig in SIGNALS if f"--{sig.name.lower()}" in argv] or SIGNALS
    policies = [a for a in argv[2:] if not a.startswith("--")] or POLICIES
    unknown = set(policies) - set(POLICIES)
    if unknown:
        raise AssertionError(f"unknown policies {sorted(unknown)} (known: {', '.join(POLICIES)})")
    E.setup_objects(c)
    c.start_responders()
    E.start_herald(c)
    c.create("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
             E.endpoint_slice({name: 1 for name in E.NODES}))
    c.create("/api/v1/namespaces/default/services", E.web_service(policy=policies[0]))
    ip = poll("the allocator gives web an address", lambda: c.service_ip("web"), 30)
    for policy in policies:
        c.patch("/api/v1/namespaces/default/services/web", {"spec": {"externalTrafficPolicy": policy}})
        for sig in signals:
            rolling_restart(c, argv[1], policy, ip, sig)


def prepare(c):
    c.client = c.add_routed_client()


def main(argv):
    return E.run_cluster(argv, "e2e-rolling", scenarios, usage_extra=" [Cluster|Local ...] [--sigterm|--sigkill]", prepare=prepare)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
