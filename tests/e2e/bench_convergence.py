#!/usr/bin/env python3
# Benchmark of issue 7 (BENCHMARKS.md "Convergence: Service to ECMP route"):
# a Service of type LoadBalancer created → the router's kernel FIB holds its
# address with all three nodes as next hops. The cluster is e2e.Cluster (the
# emulator, herald-allocator, three herald-agents, a BIRD or FRR router
# installing ECMP routes in its kernel).
#
#   python3 bench_convergence.py ROUTER [COUNT]     ROUTER: bird frr; COUNT 50
#
# Services are created one after another, each once the previous one has
# converged. t0 is taken just before the create request is written (a kept-open
# HTTP connection from the router namespace, no process start in the timing);
# the end is when `ip -o monitor route` in the router namespace, read by a
# thread, prints the route with three next hops (streaming: no polling delay).
# A watch on Services gives the moment the allocator's status write is seen
# (the allocation share); the emulator's request log (each request's
# monotonic time, the same clock) says when the create and the allocator's
# annotation and status patches reached the API server, and how long it
# took to apply the status patch. Then (benchmark 2 of issue 11, withdraw)
# the Services are deleted one after another, every other one after a quiet
# spell of 20 ms and the rest right after the previous route went (then the
# agents' withdrawal plan waits for the end of their 10 ms plan window): t0
# before the DELETE request, the end when the monitor shows the route
# deleted and the FIB no longer holds it. Prints p50, p99 (nearest rank) and
# max of each step.
# Exit: 0 done, 1 failure, 77 skip (1 under CI=true).
import ctypes
import http.client
import json
import math
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.parse

import e2e

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def made_in(ns, make):
    """make() called with this thread in network namespace ns; what it
    returns (a socket) stays in ns after the thread switches back."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        return make()
    finally:
        _libc.setns(own, CLONE_NEWNET)
        os.close(own)
        os.close(target)


def connect_in(ns, url):
    """An HTTP connection to url opened from namespace ns."""
    u = urllib.parse.urlsplit(url)

    def connect():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.connect()
        return conn
    return made_in(ns, connect)


class RouteMonitor:
    """`ip -o monitor route` in ns: (monotonic time, prefix, next hops,
    deleted) for every route added, replaced or deleted, on a queue; `first`
    keeps when each prefix first appeared (with the first node's next hop).
    family: "-4" or "-6". Returns once `ip monitor` is seen to listen: a
    route the benchmark adds a few ms later must not arrive before it does
    (a Service converging in ~5 ms did, and the wait for it timed out)."""

    MARKER = {"-4": "198.51.100.254", "-6": "2001:db8:ffff::fe"}

    def __init__(self, ns, family="-4"):
        self.events = queue.Queue()
        self.first = {}
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "ip", "-o", family, "monitor", "route"],
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        # A route to lo added and removed until the monitor reports the
        # removal; every event up to it is dropped from the queue.
        marker = self.MARKER[family]
        end = time.monotonic() + 10
        while True:
            for verb in ("replace", "del"):
                subprocess.run(["ip", "-n", ns, family, "route", verb, marker, "dev", "lo"], check=True)
            try:
                self.wait_for(lambda p, _h, deleted: p == marker and deleted, 0.2)
                break
            except queue.Empty:
                if time.monotonic() > end:
                    raise AssertionError(f"ip monitor route in {ns} reported nothing in 10 s")
        self.first.pop(marker, None)

    def _read(self):
        for line in self.proc.stdout:
            t = time.monotonic()
            words = line.split()
            deleted = bool(words) and words[0] == "Deleted"
            words = words[1:] if deleted else words
            if not words:
                continue
            hops = {w for a, w in zip(words, words[1:]) if a == "via"}
            if not deleted:
                self.first.setdefault(words[0], t)
            self.events.put((t, words[0], hops, deleted))

    def wait_for(self, match, timeout, since=0.0):
        """The first event (time, prefix, next hops, deleted) stamped at or
        after `since` for which match(...) holds."""
        end = time.monotonic() + timeout
        while True:
            ev = self.events.get(timeout=max(0.01, end - time.monotonic()))
            if ev[0] >= since and match(*ev[1:]):
                return ev

    def wait(self, prefixes_seen, hops, timeout):
        """The first event after now of a prefix not in prefixes_seen with
        `hops` next hops: (time, prefix)."""
        t, prefix, _, _ = self.wait_for(lambda p, h, deleted: not deleted and len(h) >= hops
                                        and p not in prefixes_seen, timeout)
        return t, prefix

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)


class ServiceWatch:
    """A watch on Services: the monotonic time each one first shows an
    ingress address."""

    def __init__(self, conn):
        self.assigned = {}
        self.cond = threading.Condition()
        conn.request("GET", "/api/v1/namespaces/default/services?watch=1&allowWatchBookmarks=false")
        self.resp = conn.getresponse()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            line = self.resp.readline()
            if not line:
                return
            t = time.monotonic()
            try:
                obj = json.loads(line)["object"]
            except (ValueError, KeyError):
                continue
            name = obj.get("metadata", {}).get("name")
            if obj.get("status", {}).get("loadBalancer", {}).get("ingress"):
                with self.cond:
                    self.assigned.setdefault(name, t)
                    self.cond.notify_all()


def percentile(sorted_values, p):
    """Nearest-rank percentile (p99 of 50 samples is the largest)."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def request(conn, method, path, body=None, want=200, content_type="application/json"):
    """One API request on a kept-open connection; the reply's body. t0 of
    the figures is taken just before this is called."""
    headers = {"Content-Type": content_type} if body is not None else {}
    conn.request(method, path, body, headers)
    resp = conn.getresponse()
    text = resp.read()
    if resp.status != want:
        raise AssertionError(f"{method} {path}: HTTP {resp.status}: {text[:300]}")
    return text


def start(c, peer=None):
    """Objects (peer: extra BGPPeer spec fields), router, allocator and
    agents up, sessions Established; a route monitor and a kept-open API
    connection in the router namespace."""
    e2e.setup_objects(c, peer=peer)
    e2e.start_herald(c)
    c.router.wait_established([e2e.node_ip(n["i"]) for n in c.nodes], timeout=60)
    return RouteMonitor(c.rns), connect_in(c.rns, c.url)


QUIET_BEFORE_DELETE = 0.02  # seconds: longer than the agents' 10 ms plan window


def measure(c, count, withdraw=True):
    """Creates count + 1 Services one after another (the first warms up),
    then, with withdraw, deletes them one after another: per counted
    Service the convergence times and the withdraw time (ms)."""
    monitor, conn = start(c)
    watch = ServiceWatch(connect_in(c.rns, c.url))
    all_hops = {e2e.node_ip(n["i"]) for n in c.nodes}
    seen = set()
    rows = []
    path = "/api/v1/namespaces/default/services"
    try:
        for i in range(count + 1):  # the first one warms up and is not counted
            name = f"bench-{i}"
            body = json.dumps(e2e.web_service(name))
            t0 = time.monotonic()
            request(conn, "POST", path, body, want=201)
            t3, prefix = monitor.wait(seen, len(all_hops), 30)
            seen.add(prefix)
            with watch.cond:
                watch.cond.wait_for(lambda: name in watch.assigned, 10)
            ip = c.service_ip(name)
            if ip != prefix or c.fib(f"{ip}/32") != all_hops:
                raise AssertionError(f"{name}: has {ip}, the route seen was {prefix} via {c.fib(f'{ip}/32')}")
            rows.append({"name": name, "ip": ip, "t0": t0, "alloc": (watch.assigned[name] - t0) * 1e3,
                         "first": (monitor.first[prefix] - t0) * 1e3, "all": (t3 - t0) * 1e3})
        place_api_requests(c, rows)
        # Every other Service is deleted after a quiet spell longer than the
        # agents' plan window (10 ms), the others right after the previous
        # route went: a withdrawal takes a full plan, which runs at once
        # after a quiet spell and otherwise when the window ends.
        for i, r in enumerate(rows if withdraw else []):
            if i % 2 == 0:
                time.sleep(QUIET_BEFORE_DELETE)
            t0 = time.monotonic()
            request(conn, "DELETE", f"{path}/{r['name']}")
            # A deletion of the prefix after which the router's FIB lacks it
            # (a multipath route shrinking may be a delete and an add).
            t = monitor.wait_for(lambda p, _h, deleted: deleted and p == r["ip"]
                                 and not c.fib(f"{r['ip']}/32"), 30, since=t0)[0]
            r["withdraw_quiet" if i % 2 == 0 else "withdraw"] = (t - t0) * 1e3
    finally:
        monitor.close()
    return rows[1:]


def place_api_requests(c, rows):
    """Where the allocation's share goes, from the emulator's request log
    (each request's CLOCK_MONOTONIC time, read in full), from t0: "create"
    when the create request was read (the client's own part); "annotate"
    when the allocator's annotation patch was read (the create's watch
    events and the allocator's decision); "patch" when its status patch
    was read (the annotation patch answered, its watch events);
    "patch_dispatch" what the emulator took to apply the status patch."""
    log = c.api("GET", "/_emulator/requests")
    creates, annotated, patched = [], {}, {}
    for e in log:
        if e.get("resource") != "services" or e.get("namespace") != "default" or e["code"] not in (200, 201):
            continue
        t = e["monotonicNs"] / 1e9
        if e["verb"] == "create":
            creates.append(t)
        elif e["verb"] == "patch" and e["subresource"] == "status":
            patched.setdefault(e["name"], (t, e["dispatchNs"] / 1e6))
        elif e["verb"] == "patch" and e["subresource"] == "":
            annotated.setdefault(e["name"], t)
    creates.sort()
    # A row without its requests in the log (5000 kept) is left out of these steps.
    for r in rows:
        if r["name"] not in patched:
            continue
        r["patch"] = (patched[r["name"]][0] - r["t0"]) * 1e3
        r["patch_dispatch"] = patched[r["name"]][1]
        if r["name"] in annotated:
            r["annotate"] = (annotated[r["name"]] - r["t0"]) * 1e3
        after = [t for t in creates if t >= r["t0"]]
        if after and (after[0] - r["t0"]) * 1e3 <= r["patch"]:
            r["create"] = (after[0] - r["t0"]) * 1e3


def percentiles(values):
    """(p50, p99, max) of values (p99 nearest rank)."""
    v = sorted(values)
    return percentile(v, 50), percentile(v, 99), v[-1]


def report(rows, router_kind, argv):
    print(f"command: sudo python3 tests/e2e/bench_convergence.py {' '.join(argv[1:])}")
    print(f"router: {router_kind}; {len(rows)} Services, each created after the previous converged, "
          "then deleted one after another (every other one after a 20 ms quiet spell)")
    print("| step | p50 (ms) | p99 (ms) | max (ms) |")
    print("|---|---:|---:|---:|")
    for key, label in (("create", "created → the create request read by the API server"),
                       ("annotate", "created → the allocator's annotation patch read by the API server"),
                       ("patch", "created → the allocator's status patch read by the API server"),
                       ("patch_dispatch", "the API server applying that patch (alone, not from creation)"),
                       ("alloc", "created → status with an address (seen by a watch)"),
                       ("first", "created → the route in the router's kernel FIB (first next hop)"),
                       ("all", "created → all three next hops in the router's kernel FIB"),
                       ("withdraw_quiet", "deleted after a quiet spell → the route gone from the router's kernel FIB"),
                       ("withdraw", "deleted right after the previous route went → the route gone (the rest of "
                                    "the agents' 10 ms plan window)")):
        values = [r[key] for r in rows if key in r]
        if values:
            p50, p99, top = percentiles(values)
            print(f"| {label} | {p50:.1f} | {p99:.1f} | {top:.1f} |")
    sys.stdout.flush()


def bench(c, argv):
    count = int(argv[2]) if len(argv) > 2 else 50
    report(measure(c, count), argv[1], argv)


if __name__ == "__main__":
    sys.exit(e2e.run_cluster(sys.argv, "bench", bench, usage_extra=" [COUNT]"))
