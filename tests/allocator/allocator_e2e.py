#!/usr/bin/env python3
"""herald-allocator against herald-kube-emulator (suite 'allocator-e2e').

  allocator_e2e.py EMULATOR ALLOCATOR CRD_DIR [SCENARIO...]

One assertion group per bullet of issue 6, each on its own emulator and
allocator processes (started here, killed by pid at the end):
class filtering and release; group annotation and default group; requested
addresses and spec.loadBalancerIP; shared IPs with a port conflict; dual
stack in a one-family group; invalid groups; a duplicate address from an
older installation; pool grow / shrink / delete; a restart with 1,000
allocated Services (no address changes, no writes beyond the Lease); two
replicas with the leader SIGKILLed while Services are being created (no
address twice at any moment, every Service served); a leader frozen past its
renew deadline writes nothing when it wakes; an API-server outage (all
requests, then only writes refused) during which nothing is written and
after which the Services created meanwhile are served. /metrics is checked with
promtool (skipped with a message when promtool is missing; under CI=true
that fails). Pools use documentation ranges only.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))
import emulator_test as emu_mod  # noqa: E402  (the Emulator and Watch helpers)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from metrics_check import promtool_check  # noqa: E402

EMULATOR, ALLOCATOR, CRD_DIR = sys.argv[1], sys.argv[2], sys.argv[3]
ONLY = set(sys.argv[4:])
emu_mod.EMULATOR, emu_mod.CRD_DIR = EMULATOR, CRD_DIR
check, failures = emu_mod.check, emu_mod.failures
CI = os.environ.get("CI") == "true"
SYSTEM_NS = "herald-system"
MERGE = "application/merge-patch+json"
# Short Lease timings so failover takes ~3 s rather than 15 s (and still
# renews in time on a loaded CI machine under ASan).
LEASE_ARGS = ["--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.3"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, what, timeout=20.0, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    check(False, "timed out (%.0f s) waiting for: %s" % (timeout, what))
    return None


class Allocator:
    """One herald-allocator process; its log goes to a file shown on failure."""

    def __init__(self, emu, identity, *args):
        self.identity = identity
        self.port = free_port()
        self.log_path = os.path.join(emu.dir, "allocator-%s.log" % identity)
        self.log = open(self.log_path, "w")
        cmd = [ALLOCATOR, "--kubeconfig", emu.kubeconfig, "--namespace", SYSTEM_NS, "--identity", identity,
               "--http", "127.0.0.1:%d" % self.port, "--log-level", "info", *LEASE_ARGS, *args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def http(self, path):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            c.request("GET", path)
            r = c.getresponse()
            body = r.read().decode()
            c.close()
            return r.status, body
        except OSError:
            return 0, ""

    def metric(self, name):
        """The value of one sample line "name value" (labels included in name), or None."""
        _, text = self.http("/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return None

    def leading(self):
        return self.metric("herald_allocator_leader") == 1 and (self.metric("herald_allocator_rebuilds_total") or 0) >= 1

    def stop(self, sig=signal.SIGTERM, timeout=10, repeat=False):
        """Signals the process (by pid) and waits; returns its exit code.
        repeat: signal again every few milliseconds until it exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            deadline = time.time() + timeout
            while repeat and self.proc.poll() is None and time.time() < deadline:
                time.sleep(0.003)
                self.proc.send_signal(sig)
            try:
                self.proc.wait(max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def dump_log(self):
        with open(self.log_path) as f:
            lines = f.readlines()
        print("---- %s log (last 60 lines)" % self.identity)
        print("".join(lines[-60:]))


class Cluster:
    """An emulator and the allocators of one scenario; stops all of them at the end."""

    def __init__(self):
        self.emu = emu_mod.Emulator()
        self.allocators = []
        self.failures_before = len(failures)
        self.ensure_namespace(SYSTEM_NS)

    def start(self, identity="alloc-a", *args, wait_leading=True):
        a = Allocator(self.emu, identity, *args)
        self.allocators.append(a)
        if wait_leading:
            wait_for(a.leading, "%s leads and has rebuilt" % identity, timeout=30)
        return a

    def close(self):
        for a in self.allocators:
            a.stop(signal.SIGKILL)
        if len(failures) != self.failures_before:
            for a in self.allocators:
                a.dump_log()
        self.emu.stop()

    # ---- API helpers
    def req(self, method, path, body=None, ctype="application/json"):
        return self.emu.request(method, path, body, ctype)

    def ensure_namespace(self, ns):
        self.req("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})

    def group(self, name, spec, method="POST"):
        path = "/apis/herald.dev/v1/namespaces/%s/servicegroups" % SYSTEM_NS
        if method == "POST":
            st, body, _ = self.req("POST", path, {"apiVersion": "herald.dev/v1", "kind": "ServiceGroup",
                                                  "metadata": {"name": name}, "spec": spec})
        elif method == "DELETE":
            st, body, _ = self.req("DELETE", path + "/" + name)
        else:
            # A merge patch cannot shrink lists or drop keys reliably: replace the
            # spec whole. The allocator writes the group's status meanwhile, so
            # a stale resourceVersion (409) reads the group again, as kubectl does.
            for _ in range(10):
                _, cur, _ = self.req("GET", path + "/" + name)
                cur["spec"] = spec
                st, body, _ = self.req("PUT", path + "/" + name, cur)
                if st != 409:
                    break
        check(st in (200, 201), "ServiceGroup %s %s: %s %s" % (name, method, st, body))
        return body

    def group_status(self, name):
        _, body, _ = self.req("GET", "/apis/herald.dev/v1/namespaces/%s/servicegroups/%s" % (SYSTEM_NS, name))
        return (body or {}).get("status", {})

    def service(self, ns, name, ports=((80, "TCP"),), annotations=None, cls=None, families=None, policy=None,
                lb_ip=None, svc_type="LoadBalancer"):
        self.ensure_namespace(ns)
        spec = {"type": svc_type, "ports": [{"port": p, "protocol": proto, "name": "p%d%s" % (p, proto.lower())}
                                            for p, proto in ports]}
        if cls:
            spec["loadBalancerClass"] = cls
        if families:
            spec["ipFamilies"] = families
        if policy:
            spec["ipFamilyPolicy"] = policy
        if lb_ip:
            spec["loadBalancerIP"] = lb_ip
        st, body, _ = self.req("POST", "/api/v1/namespaces/%s/services" % ns,
                               {"metadata": {"name": name, "annotations": annotations or {}}, "spec": spec})
        check(st == 201, "create Service %s/%s: %s %s" % (ns, name, st, body))
        return body

    def get(self, ns, name):
        st, body, _ = self.req("GET", "/api/v1/namespaces/%s/services/%s" % (ns, name))
        return body if st == 200 else None

    def ips(self, ns, name):
        s = self.get(ns, name) or {}
        return [i.get("ip") for i in s.get("status", {}).get("loadBalancer", {}).get("ingress", []) or []]

    def wait_ips(self, ns, name, count=1, timeout=20):
        return wait_for(lambda: (lambda ips: ips if len(ips) == count else None)(self.ips(ns, name)),
                        "%s/%s has %d address(es)" % (ns, name, count), timeout) or []

    def events(self, ns, name=None, reason=None):
        _, body, _ = self.req("GET", "/api/v1/namespaces/%s/events" % ns)
        out = []
        for e in (body or {}).get("items", []):
            if name and e.get("involvedObject", {}).get("name") != name:
                continue
            if reason and e.get("reason") != reason:
                continue
            out.append(e)
        return out

    def wait_event(self, ns, name, reason, contains="", timeout=20):
        def found():
            return [e for e in self.events(ns, name, reason) if contains in e.get("message", "")]
        got = wait_for(found, "Event %s on %s/%s containing %r" % (reason, ns, name, contains), timeout)
        return got[0] if got else None

    def settle(self, a, seconds=1.0):
        """Waits until the allocator made no write for `seconds` (writes counter steady)."""
        def writes():
            _, text = a.http("/metrics")
            return [l for l in text.splitlines() if l.startswith("herald_allocator_writes_total")]
        last, since = writes(), time.time()
        deadline = time.time() + 20
        while time.time() < deadline:
            time.sleep(0.2)
            now = writes()
            if now != last:
                last, since = now, time.time()
            elif time.time() - since >= seconds:
                return
        check(False, "the allocator kept writing for 20 s")


def remote(v4=None, v6=None, **extra):
    spec = {}
    if v4:
        spec["v4pools"] = [{"subnet": s, "pool": p, "aggregation": "default"} for s, p in v4]
    if v6:
        spec["v6pools"] = [{"subnet": s, "pool": p, "aggregation": "default"} for s, p in v6]
    spec.update(extra)
    return {"remote": spec}


def in_net(ip, prefix):
    return ip is not None and ip.startswith(prefix)


def annotations_of(svc):
    return (svc or {}).get("metadata", {}).get("annotations", {}) or {}


# ---------------------------------------------------------------- scenarios

def scenario_class_filter():
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/28")]))
        a = c.start()
        c.service("shop", "unset")
        c.service("shop", "ours", cls="herald.dev/lb")
        c.service("shop", "theirs", cls="example.com/other-lb")
        c.service("shop", "plain", svc_type="ClusterIP")
        [ip_unset] = c.wait_ips("shop", "unset") or [None]
        [ip_ours] = c.wait_ips("shop", "ours") or [None]
        check(in_net(ip_unset, "192.0.2.") and in_net(ip_ours, "192.0.2.") and ip_unset != ip_ours,
              "unset class and herald.dev/lb get distinct pool addresses: %s %s" % (ip_unset, ip_ours))
        ann = annotations_of(c.get("shop", "unset"))
        check(ann.get("herald.dev/allocated-by") == "herald" and ann.get("herald.dev/allocated-from") == "default"
              and ann.get("herald.dev/pool-type") == "remote", "allocation annotations written: %s" % ann)
        check(c.get("shop", "unset")["status"]["loadBalancer"]["ingress"][0].get("ipMode") == "VIP", "ipMode VIP")
        c.wait_event("shop", "unset", "AddressAssigned", ip_unset or "?")
        c.settle(a)
        check(c.ips("shop", "theirs") == [] and "herald.dev/allocated-by" not in annotations_of(c.get("shop", "theirs")),
              "another class is ignored")
        check(c.ips("shop", "plain") == [], "a ClusterIP Service is ignored")
        # Type change releases; delete releases.
        c.req("PATCH", "/api/v1/namespaces/shop/services/unset", {"spec": {"type": "ClusterIP"}}, MERGE)
        wait_for(lambda: c.ips("shop", "unset") == [] and
                 "herald.dev/allocated-by" not in annotations_of(c.get("shop", "unset")),
                 "type change to ClusterIP drops the address and Herald's annotations")
        c.wait_event("shop", "unset", "AddressReleased", ip_unset or "?")
        c.req("DELETE", "/api/v1/namespaces/shop/services/ours")
        c.wait_event("shop", "ours", "AddressReleased", "deleted")
        # A freed address is not handed out again at once (next fit).
        c.service("shop", "next")
        [ip_next] = c.wait_ips("shop", "next") or [None]
        check(ip_next not in (ip_unset, ip_ours), "freed addresses are not reused at once: %s" % ip_next)
        a.stop()
        # --class / --no-unset-class: only the named class.
        c.service("other", "unset2")
        c.service("other", "custom", cls="example.com/custom")
        c.start("alloc-b", "--class", "example.com/custom", "--no-unset-class")
        c.wait_ips("other", "custom")
        time.sleep(0.5)
        check(c.ips("other", "unset2") == [], "--no-unset-class leaves class-less Services alone")
    finally:
        c.close()


def scenario_groups():
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/28")]))
        c.group("edge", {"local": {"v4pool": {"subnet": "198.51.100.0/24", "pool": "198.51.100.10-198.51.100.20",
                                              "aggregation": "default"}}})
        c.start()
        c.service("web", "plain")
        c.service("web", "edge", annotations={"herald.dev/service-group": "edge"})
        c.service("web", "nowhere", annotations={"herald.dev/service-group": "missing"})
        [ip] = c.wait_ips("web", "plain") or [None]
        check(in_net(ip, "192.0.2."), "no annotation: the group named default (%s)" % ip)
        [ip] = c.wait_ips("web", "edge") or [None]
        ann = annotations_of(c.get("web", "edge"))
        check(in_net(ip, "198.51.100.") and ann.get("herald.dev/allocated-from") == "edge" and
              ann.get("herald.dev/pool-type") == "local", "the annotated group, pool type local: %s %s" % (ip, ann))
        c.wait_event("web", "nowhere", "AllocationFailed", "missing")
        check(c.ips("web", "nowhere") == [], "a missing group allocates nothing")
    finally:
        c.close()


def scenario_requested():
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/28")], v6=[("2001:db8::/64", "2001:db8::/120")]))
        c.start()
        c.service("req", "ann", annotations={"herald.dev/addresses": "192.0.2.7"})
        c.service("req", "legacy", lb_ip="192.0.2.9")
        check(c.wait_ips("req", "ann") == ["192.0.2.7"], "herald.dev/addresses is honoured")
        check(c.wait_ips("req", "legacy") == ["192.0.2.9"], "spec.loadBalancerIP is honoured")
        c.wait_event("req", "legacy", "ConfigurationWarning", "deprecated")
        c.service("req", "taken", annotations={"herald.dev/addresses": "192.0.2.7"})
        c.wait_event("req", "taken", "AllocationFailed", "req/ann")
        c.service("req", "outside", annotations={"herald.dev/addresses": "203.0.113.5"})
        c.wait_event("req", "outside", "AllocationFailed", "203.0.113.5")
        c.service("req", "v6", families=["IPv6"], annotations={"herald.dev/addresses": "2001:db8::42"})
        check(c.wait_ips("req", "v6") == ["2001:db8::42"], "a requested IPv6 address")
        check(c.ips("req", "taken") == [] and c.ips("req", "outside") == [], "refused requests get nothing")
    finally:
        c.close()


def scenario_shared():
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/28")]))
        c.start()
        key = {"herald.dev/allow-shared-ip": "front"}
        c.service("share", "http", ports=((80, "TCP"),), annotations=key)
        [ip1] = c.wait_ips("share", "http") or [None]
        c.service("share", "https", ports=((443, "TCP"),), annotations=key)
        c.service("share", "dns", ports=((80, "UDP"),), annotations=key)
        [ip2] = c.wait_ips("share", "https") or [None]
        [ip3] = c.wait_ips("share", "dns") or [None]
        check(ip1 is not None and ip1 == ip2 == ip3, "one address for non-overlapping ports: %s %s %s" % (ip1, ip2, ip3))
        c.service("share", "clash", ports=((80, "TCP"),), annotations=key)
        c.wait_event("share", "clash", "AllocationFailed", "port TCP/80 on %s is used by Service share/http" % ip1)
        check(c.ips("share", "clash") == [], "a port conflict gets no address")
        c.service("share", "alone", ports=((80, "TCP"),))
        [ip4] = c.wait_ips("share", "alone") or [None]
        check(ip4 not in (None, ip1), "without the key: its own address")
    finally:
        c.close()


def scenario_dual_stack():
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/28")]))
        c.group("dual", remote(v4=[("198.51.100.0/24", "198.51.100.0/28")], v6=[("2001:db8:1::/64", "2001:db8:1::/120")]))
        c.start()
        c.service("ds", "single", families=["IPv4"], policy="SingleStack")
        c.service("ds", "prefer", families=["IPv4", "IPv6"], policy="PreferDualStack")
        c.service("ds", "require", families=["IPv4", "IPv6"], policy="RequireDualStack")
        c.service("ds", "v6only", families=["IPv6"], policy="SingleStack")
        c.service("ds", "both", families=["IPv6", "IPv4"], policy="RequireDualStack",
                  annotations={"herald.dev/service-group": "dual"})
        check(len(c.wait_ips("ds", "single")) == 1, "SingleStack: one IPv4 address")
        [ip] = c.wait_ips("ds", "prefer") or [None]
        check(in_net(ip, "192.0.2."), "PreferDualStack in a one-family group: the family it has")
        c.wait_event("ds", "require", "AllocationFailed", "RequireDualStack needs IPv4 and IPv6 but ServiceGroup default has no IPv6 pool")
        c.wait_event("ds", "v6only", "AllocationFailed", "SingleStack wants IPv6")
        ips = c.wait_ips("ds", "both", count=2)
        check(len(ips) == 2 and ":" in ips[0] and "." in ips[1], "RequireDualStack in a dual group, ipFamilies order: %s" % ips)
        check(c.ips("ds", "require") == [], "all or nothing for RequireDualStack")
    finally:
        c.close()


def scenario_invalid_group():
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/28")]))
        c.start()
        c.group("bad", remote(v4=[("198.51.100.0/24", "203.0.113.0/28")]))
        c.group("late", remote(v4=[("192.0.2.0/24", "192.0.2.8/29")]))
        def invalid(name, text):
            conds = {x["type"]: x for x in c.group_status(name).get("conditions", [])}
            inv = conds.get("Invalid", {})
            return (inv.get("status") == "True" and text in inv.get("message", "") and
                    conds.get("Ready", {}).get("status") == "False" and inv.get("lastTransitionTime"))
        wait_for(lambda: invalid("bad", "not inside its subnet"), "bad: Invalid condition naming the problem")
        wait_for(lambda: invalid("late", "overlaps"), "late: Invalid (overlaps the older group)")
        c.wait_event(SYSTEM_NS, "bad", "ConfigurationWarning", "not inside its subnet")
        c.wait_event(SYSTEM_NS, "late", "ConfigurationWarning", "overlaps")
        c.service("inv", "ok")
        c.service("inv", "wants-bad", annotations={"herald.dev/service-group": "bad"})
        [ip] = c.wait_ips("inv", "ok") or [None]
        check(in_net(ip, "192.0.2."), "other groups keep working")
        c.wait_event("inv", "wants-bad", "AllocationFailed", "bad")
        wait_for(lambda: c.group_status("default").get("v4InUse") == 1 and c.group_status("default").get("v4Size") == "16"
                 and c.group_status("default").get("poolType") == "remote", "default's status: size 16, 1 in use")
    finally:
        c.close()


def scenario_duplicate():
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/28")]))
        # An older installation left 192.0.2.5 on two Services; "old" was created first.
        written = {"herald.dev/allocated-by": "herald", "herald.dev/allocated-from": "default",
                   "herald.dev/pool-type": "remote"}
        for name in ("old", "new"):
            c.service("dup", name, annotations=written)
            c.req("PATCH", "/api/v1/namespaces/dup/services/%s/status" % name,
                  {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.5"}]}}}, MERGE)
            if name == "old":
                time.sleep(1.1)  # creationTimestamp has one-second resolution
        c.start()
        wait_for(lambda: (lambda ips: ips and ips != ["192.0.2.5"])(c.ips("dup", "new")), "the newer is re-allocated")
        check(c.ips("dup", "old") == ["192.0.2.5"], "the older keeps the address")
        c.wait_event("dup", "old", "ConfigurationWarning", "dup/new")
        c.wait_event("dup", "new", "ConfigurationWarning", "dup/old")
    finally:
        c.close()


def scenario_pool_edits():
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/30")]))
        a = c.start()
        for i in range(5):
            c.service("pool", "s%d" % i)
        for i in range(4):
            c.wait_ips("pool", "s%d" % i)
        c.wait_event("pool", "s4", "AllocationFailed", "")
        check(c.ips("pool", "s4") == [], "an exhausted pool allocates nothing")
        # Grow: the waiting Service is served at once.
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/29")]), method="PUT")
        [ip4] = c.wait_ips("pool", "s4") or [None]
        check(in_net(ip4, "192.0.2."), "growing the pool serves the waiting Service")
        # Shrink: addresses outside stay, with a Warning condition and a ConfigurationWarning.
        before = {i: c.ips("pool", "s%d" % i) for i in range(5)}
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.4/30")]), method="PUT")
        def outside_warning():
            conds = {x["type"]: x for x in c.group_status("default").get("conditions", [])}
            w = conds.get("Warning", {})
            return w.get("status") == "True" and w.get("reason") == "AddressesOutsidePools"
        wait_for(outside_warning, "Warning condition AddressesOutsidePools after the shrink")
        c.wait_event("pool", "s0", "ConfigurationWarning", "outside")
        c.settle(a)
        after = {i: c.ips("pool", "s%d" % i) for i in range(5)}
        check(before == after, "a shrink moves no address: %s -> %s" % (before, after))
        # Delete: allocations stay, Services are warned, new ones fail.
        c.group("default", None, method="DELETE")
        c.wait_event("pool", "s1", "ConfigurationWarning", "does not exist")
        c.service("pool", "late")
        c.wait_event("pool", "late", "AllocationFailed", "")
        c.settle(a)
        check({i: c.ips("pool", "s%d" % i) for i in range(5)} == before, "deleting the group keeps the allocations")
        check(a.metric('herald_allocator_pool_addresses_in_use{group="default",family="ipv4"}') == 5,
              "a deleted group's addresses stay in the in-use metric")
    finally:
        c.close()


def scenario_restart_1000():
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/24"), ("198.51.100.0/24", "198.51.100.0/24")],
                                  v6=[("2001:db8:2::/64", "2001:db8:2::/112")]))
        services = []
        for i in range(1000):
            fam = ["IPv4"] if i % 2 == 0 else ["IPv6"]
            services.append({"apiVersion": "v1", "kind": "Service",
                             "metadata": {"namespace": "bulk", "name": "svc-%04d" % i},
                             "spec": {"type": "LoadBalancer", "ipFamilies": fam, "ipFamilyPolicy": "SingleStack",
                                      "ports": [{"port": 80, "protocol": "TCP"}]}})
        st, body, _ = c.req("POST", "/_emulator/objects", services)
        check(st == 200 and body.get("created") == 1000, "bulk create of 1000 Services: %s" % body)
        t0 = time.time()
        a = c.start("alloc-first")

        def snapshot():
            _, body, _ = c.req("GET", "/api/v1/namespaces/bulk/services")
            return {s["metadata"]["name"]: ([i.get("ip") for i in s.get("status", {}).get("loadBalancer", {}).get("ingress", []) or []],
                                            s["metadata"]["resourceVersion"]) for s in body["items"]}
        wait_for(lambda: all(len(v[0]) == 1 for v in snapshot().values()), "1000 Services allocated", timeout=120,
                 interval=0.5)
        print("1000 Services allocated in %.1f s (first start, including leader election)" % (time.time() - t0))
        wait_for(lambda: c.group_status("default").get("v4InUse") == 500 and c.group_status("default").get("v6InUse") == 500,
                 "group status: 500 + 500 in use", timeout=30)
        c.settle(a)
        _, text = a.http("/metrics")
        promtool_check(text, "leader")
        check('herald_allocator_pool_addresses_in_use{group="default",family="ipv6"} 500' in text, "in-use metric")
        # Two watches and a few keep-alive connections carried the ~2,000
        # writes (kube client: at most 8 requests on the wire).
        conns = a.metric("herald_allocator_kube_connections_opened_total")
        check(conns is not None and 2 <= conns <= 20, "connections opened for 1000 allocations: %s" % conns)
        print("connections opened to the API server: %s" % conns)
        before = snapshot()
        all_ips = [v[0][0] for v in before.values()]
        check(len(set(all_ips)) == 1000, "1000 distinct addresses")
        # Again and again until it exits: still 0, also when one arrives during teardown.
        check(a.stop(repeat=True) == 0, "repeated SIGTERM: exit code 0")
        _, lease, _ = c.req("GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/herald-allocator" % SYSTEM_NS)
        check(lease["spec"].get("holderIdentity", "") == "", "SIGTERM released the Lease: %s" % lease["spec"])
        c.req("POST", "/_emulator/requests?clear=1")
        t0 = time.time()
        b = c.start("alloc-second")
        print("restart: leading and rebuilt after %.1f s" % (time.time() - t0))
        time.sleep(1.5)  # past the group status debounce and any write that would follow
        _, reqs, _ = c.req("GET", "/_emulator/requests")
        reqs = [r for r in reqs if not r["target"].startswith("/_emulator/")]
        writes = [r for r in reqs if r["verb"] in ("create", "update", "patch", "delete") and "/leases" not in r["target"]]
        check(not writes, "a restart writes nothing but the Lease: %s" % writes[:5])
        check(snapshot() == before, "no Service changed (addresses and resourceVersions)")
        _, text = b.http("/metrics")
        promtool_check(text, "after restart")
        st, _ = b.http("/readyz")
        check(st == 200, "readyz 200 once synced")
    finally:
        c.close()


class ServiceWatch(threading.Thread):
    """Follows every Service of a namespace and records any moment at which
    one address is in the status of two Services."""

    def __init__(self, emu, ns):
        super().__init__(daemon=True)
        self.watch = emu_mod.Watch(emu, "/api/v1/namespaces/%s/services?watch=1&resourceVersion=0" % ns, timeout=300)
        self.state, self.violations, self.events = {}, [], 0
        self.lock = threading.Lock()

    def run(self):
        try:
            while True:
                ev = self.watch.next()
                if ev is None:
                    return
                obj = ev["object"]
                name = obj["metadata"]["name"]
                ips = [i.get("ip") for i in obj.get("status", {}).get("loadBalancer", {}).get("ingress", []) or []]
                with self.lock:
                    self.events += 1
                    if ev["type"] == "DELETED":
                        self.state.pop(name, None)
                    else:
                        self.state[name] = ips
                    seen = {}
                    for n, addrs in self.state.items():
                        for ip in addrs:
                            if ip in seen:
                                self.violations.append((ip, seen[ip], n))
                            seen[ip] = n
        except (OSError, ValueError, http.client.HTTPException):
            return

    def stop(self):
        # shutdown() wakes the reader blocked in recv; close() alone would
        # wait for the reader's buffer lock until the socket timeout.
        try:
            self.watch.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join(5)
        self.watch.close()


def scenario_failover():
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/24")]))
        c.ensure_namespace("race")
        w = ServiceWatch(c.emu, "race")
        w.start()
        x = c.start("replica-x", wait_leading=False)
        y = c.start("replica-y", wait_leading=False)
        leader = wait_for(lambda: next((r for r in (x, y) if r.leading()), None), "one replica leads", timeout=30)
        check(not (x.leading() and y.leading()), "never two leaders")
        total, kill_at = 120, 50
        for i in range(total):
            c.service("race", "svc-%03d" % i)
            if i == kill_at and leader:
                served = leader.metric('herald_allocator_writes_total{kind="status"}')
                leader.stop(signal.SIGKILL)
                print("SIGKILLed the leader %s after %d Services created, %s status writes" %
                      (leader.identity, i + 1, served))
        survivor = y if leader is x else x
        wait_for(survivor.leading, "the survivor takes over", timeout=30)

        def all_served():
            _, body, _ = c.req("GET", "/api/v1/namespaces/race/services")
            items = body.get("items", [])
            return len(items) == total and all(
                len(s.get("status", {}).get("loadBalancer", {}).get("ingress", []) or []) == 1 for s in items)
        wait_for(all_served, "every Service served after the failover", timeout=60, interval=0.3)
        time.sleep(0.5)
        _, body, _ = c.req("GET", "/api/v1/namespaces/race/services")
        ips = [s["status"]["loadBalancer"]["ingress"][0]["ip"] for s in body["items"]
               if s.get("status", {}).get("loadBalancer", {}).get("ingress")]
        check(len(ips) == total and len(set(ips)) == total, "no address given twice at the end")
        w.stop()
        check(w.events >= total, "the watch saw the run (%d events)" % w.events)
        check(not w.violations, "no address on two Services at any moment: %s" % w.violations[:5])
    finally:
        c.close()


def writes_of(a):
    _, text = a.http("/metrics")
    return sorted(l for l in text.splitlines() if l.startswith("herald_allocator_writes_total"))


def scenario_paused_leader():
    """A leader frozen past its renew deadline (SIGSTOP) must not write when it
    wakes up, even though its informers deliver the changes made meanwhile."""
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/26")]))
        c.ensure_namespace("pause")
        w = ServiceWatch(c.emu, "pause")
        w.start()
        x = c.start("replica-x")
        y = c.start("replica-y", wait_leading=False)
        wait_for(lambda: y.metric('herald_allocator_informer_synced{resource="services"}') == 1, "standby synced")
        c.service("pause", "before")
        c.wait_ips("pause", "before")
        c.settle(x)
        frozen = writes_of(x)
        x.proc.send_signal(signal.SIGSTOP)
        try:
            wait_for(y.leading, "the standby takes over from the frozen leader", timeout=30)
            for i in range(10):
                c.service("pause", "during-%d" % i)
            for i in range(10):
                c.wait_ips("pause", "during-%d" % i)
        finally:
            x.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: x.metric("herald_allocator_leader") == 0, "the old leader knows it does not lead")
        c.service("pause", "after")
        c.wait_ips("pause", "after")
        c.settle(y)
        check(writes_of(x) == frozen, "the old leader wrote nothing after waking: %s -> %s" % (frozen, writes_of(x)))
        w.stop()
        check(not w.violations, "no address on two Services at any moment: %s" % w.violations[:5])
    finally:
        c.close()


def scenario_api_outage():
    """Issue 13: with the API server unreachable (every request 503, every
    connection dropped) the allocator writes nothing, and neither replica
    believes it leads once its Lease cannot be renewed; Services created
    meanwhile (through the emulator's admin endpoint, which the outage does
    not touch) get addresses after it, no address twice."""
    c = Cluster()
    try:
        c.group("default", remote(v4=[("192.0.2.0/24", "192.0.2.0/26")]))
        c.ensure_namespace("outage")
        x = c.start("replica-x", wait_leading=False)
        y = c.start("replica-y", wait_leading=False)
        leader = wait_for(lambda: next((r for r in (x, y) if r.leading()), None), "one replica leads", timeout=30)
        for i in range(5):
            c.service("outage", "before-%d" % i)
        before = {i: c.wait_ips("outage", "before-%d" % i) for i in range(5)}
        c.settle(leader)
        # Faults first, then the log cleared: a request the emulator served
        # between the two calls would otherwise count as served in the outage.
        c.req("POST", "/_emulator/fail?code=503&count=100000000")
        c.req("POST", "/_emulator/requests?clear=1")
        c.req("POST", "/_emulator/drop")
        during = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "during-%d" % i, "namespace": "outage"},
                   "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]}} for i in range(8)]
        st, body, _ = c.req("POST", "/_emulator/objects", during)
        check(st == 200 and body.get("created") == 8, "8 Services created during the outage: %s %s" % (st, body))
        wait_for(lambda: x.metric("herald_allocator_leader") == 0 and y.metric("herald_allocator_leader") == 0,
                 "neither replica leads while the Lease cannot be renewed", timeout=15)
        time.sleep(5)
        _, reqs, _ = c.req("GET", "/_emulator/requests")
        reqs = [r for r in reqs if not r["target"].startswith("/_emulator/")]
        writes = [r for r in reqs if r["verb"] in ("create", "update", "patch", "delete")]
        served = [r for r in reqs if not str(r["code"]).startswith("5")]
        check(reqs, "the replicas kept asking during the outage")
        check(not served, "nothing was served during the outage: %s" % served[:5])
        c.req("POST", "/_emulator/reset-faults")
        back = time.time()
        w = ServiceWatch(c.emu, "outage")
        w.start()
        for i in range(8):
            c.wait_ips("outage", "during-%d" % i, timeout=60)
        print("api-outage: %d requests (%d writes) refused during the outage; the 8 Services created meanwhile "
              "served %.1f s after it" % (len(reqs), len(writes), time.time() - back))
        check(all(c.ips("outage", "before-%d" % i) == before[i] for i in range(5)),
              "the Services served before the outage kept their addresses")
        _, body, _ = c.req("GET", "/api/v1/namespaces/outage/services")
        ips = [i.get("ip") for s in body["items"] for i in s.get("status", {}).get("loadBalancer", {}).get("ingress", [])]
        check(len(ips) == 13 and len(set(ips)) == 13, "13 Services, 13 distinct addresses: %s" % ips)
        check(sum(1 for r in (x, y) if r.leading()) == 1, "exactly one replica leads after the outage")
        # Second phase: reads and watches work, every write fails. The
        # leader sees the new Services, cannot write their addresses (nor
        # renew its Lease); after it they are served, still no address twice.
        leader = wait_for(lambda: next((r for r in (x, y) if r.leading()), None), "a leader after the outage", 30)
        c.settle(leader)
        for verb in ("create", "update", "patch", "delete"):
            c.req("POST", "/_emulator/fail?code=503&count=100000000&verb=%s" % verb)
        c.req("POST", "/_emulator/requests?clear=1")  # after the faults, as above
        st, body, _ = c.req("POST", "/_emulator/objects", [dict(d, metadata={"name": "ro-%d" % i, "namespace": "outage"})
                                                          for i, d in enumerate(during[:4])])
        check(st == 200 and body.get("created") == 4, "4 Services created during the write outage: %s" % body)
        wait_for(lambda: x.metric("herald_allocator_leader") == 0 and y.metric("herald_allocator_leader") == 0,
                 "neither replica leads while the Lease cannot be renewed", timeout=15)
        time.sleep(3)
        check(all(not c.ips("outage", "ro-%d" % i) for i in range(4)), "no address written during the write outage")
        _, reqs, _ = c.req("GET", "/_emulator/requests")
        writes = [r for r in reqs if r["verb"] in ("create", "update", "patch", "delete")]
        status_writes = [r for r in writes if "/services/" in r["target"]]
        check(all(str(r["code"]).startswith("5") for r in writes), "every write refused: %s" %
              [r for r in writes if not str(r["code"]).startswith("5")][:5])
        c.req("POST", "/_emulator/reset-faults")
        back = time.time()
        for i in range(4):
            c.wait_ips("outage", "ro-%d" % i, timeout=60)
        print("api-outage (writes only): %d writes refused (%d to Services); the 4 Services created meanwhile served "
              "%.1f s after it" % (len(writes), len(status_writes), time.time() - back))
        _, body, _ = c.req("GET", "/api/v1/namespaces/outage/services")
        ips = [i.get("ip") for s in body["items"] for i in s.get("status", {}).get("loadBalancer", {}).get("ingress", [])]
        check(len(ips) == 17 and len(set(ips)) == 17, "17 Services, 17 distinct addresses: %s" % ips)
        w.stop()
        check(not w.violations, "no address on two Services at any moment: %s" % w.violations[:5])
    finally:
        c.close()


SCENARIOS = [
    ("class-filter", scenario_class_filter),
    ("groups", scenario_groups),
    ("requested", scenario_requested),
    ("shared", scenario_shared),
    ("dual-stack", scenario_dual_stack),
    ("invalid-group", scenario_invalid_group),
    ("duplicate", scenario_duplicate),
    ("pool-edits", scenario_pool_edits),
    ("restart-1000", scenario_restart_1000),
    ("failover", scenario_failover),
    ("paused-leader", scenario_paused_leader),
    ("api-outage", scenario_api_outage),
]


def main():
    for path in (EMULATOR, ALLOCATOR):
        if not os.path.exists(path):
            print("binary missing:", path)
            return 1
    for name, fn in SCENARIOS:
        if ONLY and name not in ONLY:
            continue
        t0 = time.time()
        before = len(failures)
        fn()
        print("%s: %s (%.1f s)" % (name, "ok" if len(failures) == before else "FAILED", time.time() - t0), flush=True)
    if failures:
        print("%d checks failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
