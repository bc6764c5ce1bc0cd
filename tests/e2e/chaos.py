#!/usr/bin/env python3
# The chaos soak of issue 13 (docs/reliability.md): on e2e.Cluster (the
# emulator, herald-allocator as TWO replicas electing a leader over a Lease,
# three herald-agents, a BIRD router, a client namespace), a seeded random
# sequence of
#   Service creates / updates / deletes (IPv4, IPv6, dual stack, Cluster and
#   Local policy, some sharing one address under an allow-shared-ip key),
#   EndpointSlice changes (ready / not ready endpoints per node),
#   nodes leaving and joining (the exclude-from-external-load-balancers
#   label; an agent stopped with SIGTERM and started again),
#   API-server faults through the emulator's /_emulator/ switches (all
#   connections dropped, watches expired with 410, the next watches closed
#   or expired at once, history compacted, 429s and 500s, a short outage of
#   5-20 s during which Services are created behind the allocator's back),
#   BIRD restarted, an agent SIGKILLed and restarted, the allocator leader
#   SIGKILLed and restarted, an address deleted from a node's kube-lb0.
# After every few actions (a quiet point) the invariant checker waits for the
# cluster to converge and asserts that:
#   - every Service has exactly the addresses its spec implies (one per
#     family of spec.ipFamilies, in order, inside that family's pool);
#   - no address is on two Services unless they share it under one key (and
#     sharers of one key hold the same address per family);
#   - each node's kube-lb0 holds exactly what the plan implies (the addresses
#     of Services it serves: not excluded, Cluster policy or a ready local
#     endpoint of the address's family);
#   - the router's FIB has exactly the expected next hops per prefix, and no
#     route inside the pools that no Service implies;
#   - the client reaches every served address (ping through the router);
#   - exactly one allocator replica leads; every process is alive, and its
#     RSS and open descriptors stayed within RSS_BOUND_MIB / FD_BOUND of its
#     first sample.
# Each outage starts from a quiet point, and every kube-lb0 and the router's
# routes must stay unchanged through it (sampled every 0.3 s). Agents and
# allocators stopped with SIGTERM (during the run and at its end) must exit
# 0, which a sanitizer report would prevent.
#
#   python3 chaos.py [bird|frr] [--seed N] [--duration S] [--long-outage]
#
# --long-outage adds one 60 s API outage (every request 503, every connection
# dropped) in the middle of the run: off by default because CI's budget is
# shared and bad_input.py's api-outage already holds the agents through a
# full minute; the short outages run always.
# The seed is printed first and in the summary line: replay a failure with
# the same --seed and --duration (the same random choices; the few that
# depend on what the cluster shows, which replica leads or which addresses
# a kube-lb0 holds, and the timing against the daemons can differ).
# Exit: 0 pass, 1 fail, 77 skip (1 instead of 77 under CI=true).
import argparse
import ipaddress
import json
import os
import random
import signal
import sys
import time
from collections import Counter

import e2e
from e2e import L, log, poll

# The pools of e2e.setup_objects(ipv6=True): host routes.
V4_POOL, V6_POOL = e2e.V4_POOL["pool"], e2e.V6_POOL["pool"]
FAMILY = {"IPv4": 4, "IPv6": 6}
SHARE_KEY = "front"
MAX_SERVICES = 12
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
ALLOCATORS = {"allocator-a": 7472, "allocator-b": 7482}
# Growth over a process's first sample at a quiet point (after its start-up).
RSS_BOUND_MIB = 64
FD_BOUND = 32
# The emulator's descriptors are its clients' connections (a watch each,
# about ten per agent and allocator), which it closes when it notices a
# killed client's socket end: measured up to +31 with the first sample taken
# before every watch was open. Its own bound, as it is the test's tool.
EMULATOR_FD_BOUND = 64
# A quiet point may follow an outage: the informers' backoff is capped at
# 30 s (docs/kube.md) and the allocator's Lease takes 4 s to change hands.
CONVERGE_S = 90
SERVICES = "/api/v1/namespaces/default/services"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
RETRY_S = 30
STABLE_S = 1.5


class Model:
    """What the test asked for: the Services' specs, their endpoints per
    node, the excluded nodes. The expectations are computed from it and from
    the addresses the allocator wrote (which the checker validates first)."""

    def __init__(self):
        self.services = {}  # name -> {"families", "policy", "share", "port", "eps": {node: ready}}
        self.excluded = set()
        self.counter = 0

    def new_name(self):
        self.counter += 1
        return f"svc-{self.counter}"


def pool_of(family):
    return ipaddress.ip_network(V4_POOL if family == 4 else V6_POOL)


def host_prefix(ip):
    return f"{ip}/{32 if ':' not in ip else 128}"


class Chaos:
    def __init__(self, c, rng, client):
        self.c, self.rng, self.client = c, rng, client
        self.model = Model()
        self.faults = Counter()
        self.replicas = {}
        self.resources = {}  # pid -> {"name", "rss0", "fds0", "rss", "fds"}
        self.quiet_points, self.max_converge = 0, 0.0

    # --- API --------------------------------------------------------------
    def api(self, method, path, body=None, ctype="application/json", check=True):
        return self.c.api(method, path, body, ctype, check=check, retry_s=RETRY_S)

    def emulator(self, action):
        return self.c.api("POST", f"/_emulator/{action}", retry_s=RETRY_S)

    def service_body(self, name):
        s = self.model.services[name]
        annotations = {"herald.dev/allow-shared-ip": SHARE_KEY} if s["share"] else {}
        svc = e2e.web_service(name, s["policy"], annotations, ipFamilies=s["families"],
                              ipFamilyPolicy="RequireDualStack" if len(s["families"]) == 2 else "SingleStack")
        svc["spec"]["ports"] = [{"name": "p", "port": s["port"], "targetPort": 8080, "protocol": "TCP"}]
        return svc

    def slice_body(self, name, family):
        eps = self.model.services[name]["eps"]
        endpoints = []
        for node, ready in sorted(eps.items()):
            i = int(node.rsplit("-", 1)[1])
            # Data only (no interface has them); documentation ranges still.
            address = f"198.51.100.{10 + i}" if family == 4 else f"2001:db8:ff::{10 + i}"
            endpoints.append({"addresses": [address], "nodeName": node, "conditions": {"ready": ready}})
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": f"{name}-v{family}", "namespace": "default",
                             "labels": {"kubernetes.io/service-name": name}},
                "addressType": f"IPv{family}", "endpoints": endpoints,
                "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}]}

    def put_slices(self, name):
        for family in (4, 6):
            body = self.slice_body(name, family)
            path = f"{SLICES}/{body['metadata']['name']}"
            if self.api("GET", path, check=False).get("kind") == "EndpointSlice":
                self.api("PUT", path, body)
            else:
                self.api("POST", SLICES, body, check=False)

    # --- actions ------------------------------------------------------------
    def random_spec(self):
        families = self.rng.choice([["IPv4"], ["IPv6"], ["IPv4", "IPv6"], ["IPv6", "IPv4"]])
        share = self.rng.random() < 0.25
        return {"families": families, "policy": self.rng.choice(["Cluster", "Local"]), "share": share,
                "port": 1000 + self.model.counter, "eps": self.random_endpoints()}

    def random_endpoints(self):
        return {n: self.rng.random() < 0.8 for n in e2e.NODES if self.rng.random() < 0.5}

    def create_service(self, via_admin=False):
        if len(self.model.services) >= MAX_SERVICES:
            return self.delete_service()
        name = self.model.new_name()
        self.model.services[name] = self.random_spec()
        s = self.model.services[name]
        log(f"  create {name} {'+'.join(s['families'])} {s['policy']}{' shared' if s['share'] else ''}"
            f"{' (admin API, during the outage)' if via_admin else ''}")
        if via_admin:
            # The API answers 503 to everyone now: the emulator's admin
            # endpoint creates it as if POSTed.
            self.c.api("POST", "/_emulator/objects", self.service_body(name))
            self.faults["service created during an outage"] += 1
            return
        self.api("POST", SERVICES, self.service_body(name), check=False)
        self.put_slices(name)
        self.faults["service create"] += 1

    def pick_service(self):
        return self.rng.choice(sorted(self.model.services)) if self.model.services else None

    def delete_service(self):
        name = self.pick_service()
        if not name:
            return self.create_service()
        log(f"  delete {name}")
        del self.model.services[name]
        self.api("DELETE", f"{SERVICES}/{name}", check=False)
        for family in (4, 6):
            self.api("DELETE", f"{SLICES}/{name}-v{family}", check=False)
        self.faults["service delete"] += 1

    def update_service(self):
        name = self.pick_service()
        if not name:
            return self.create_service()
        s = self.model.services[name]
        if s["share"] or self.rng.random() < 0.5:
            s["policy"] = "Local" if s["policy"] == "Cluster" else "Cluster"
            what = f"policy {s['policy']}"
        elif len(s["families"]) == 2:
            s["families"] = s["families"][:1]
            what = f"single stack {s['families'][0]}"
        else:
            s["families"] = s["families"] + [("IPv6" if s["families"][0] == "IPv4" else "IPv4")]
            what = f"dual stack {'+'.join(s['families'])}"
        log(f"  update {name}: {what}")
        spec = self.service_body(name)["spec"]
        self.api("PATCH", f"{SERVICES}/{name}",
                 {"spec": {k: spec[k] for k in ("externalTrafficPolicy", "ipFamilies", "ipFamilyPolicy")}},
                 "application/merge-patch+json")
        self.faults["service update"] += 1

    def change_endpoints(self):
        name = self.pick_service()
        if not name:
            return self.create_service()
        self.model.services[name]["eps"] = self.random_endpoints()
        log(f"  endpoints of {name}: {self.model.services[name]['eps']}")
        self.put_slices(name)
        self.faults["endpoints change"] += 1

    def node_label(self):
        node = self.rng.choice(e2e.NODES)
        if node in self.model.excluded:
            self.model.excluded.discard(node)
            value, what = None, "joins (label removed)"
        elif len(self.model.excluded) < 2:
            self.model.excluded.add(node)
            value, what = "true", "leaves (exclude label)"
        else:
            return self.change_endpoints()
        log(f"  {node} {what}")
        self.api("PATCH", f"/api/v1/nodes/{node}", {"metadata": {"labels": {EXCLUDE_LABEL: value}}},
                 "application/merge-patch+json")
        self.faults["node label leave/join"] += 1

    def agent_restart(self, sig):
        n = self.rng.choice(self.c.nodes)
        pause = self.rng.uniform(0, 3) if sig == signal.SIGKILL else self.rng.uniform(2, 6)
        log(f"  agent {n['name']} {signal.Signals(sig).name}, started again after {pause:.1f} s")
        if sig == signal.SIGTERM:
            # A SIGTERM before the process reaches main (a sanitizer build
            # starts slowly) ends it by the signal, as for any process; from
            # main on the agent holds it until its handler is in place.
            poll(f"agent {n['name']} in main (SIGTERM blocked or caught)", lambda: handles_sigterm(n["agent"].pid), 30)
        # 15 s as the final stop: the Lease delete and LeakSanitizer's exit
        # scan take seconds on two busy vCPUs (the default 5 s would SIGKILL).
        rc = n["agent"].stop(sig, timeout=15)
        if sig == signal.SIGTERM:
            expect_clean_exit(n["agent"], rc)
        time.sleep(pause)
        self.c.start_agent(n)
        self.faults["agent SIGKILL+restart" if sig == signal.SIGKILL else "agent SIGTERM (node leaves)+restart"] += 1

    def leader(self):
        for identity, port in ALLOCATORS.items():
            out = L.run("curl", "-sS", "-m", "2", f"http://127.0.0.1:{port}/metrics", ns=self.c.rns, check=False)
            if any(line.strip() == "herald_allocator_leader 1" for line in out.splitlines()):
                yield identity

    def kill_leader(self):
        leaders = list(self.leader())
        if not leaders:
            return self.api_fault()
        identity = leaders[0]
        pause = self.rng.uniform(0, 3)
        log(f"  allocator leader {identity} SIGKILL, started again after {pause:.1f} s")
        self.replicas[identity].stop(signal.SIGKILL)
        time.sleep(pause)
        self.replicas[identity] = self.c.start_allocator(identity, ALLOCATORS[identity])
        self.faults["allocator leader SIGKILL"] += 1

    def router_restart(self):
        log("  BIRD restarted")
        self.c.router.restart()
        self.faults["router restart"] += 1

    def delete_address(self):
        candidates = [(n, a) for n in self.c.nodes for a in sorted(self.c.lb_addresses(n))]
        if not candidates:
            return self.create_service()
        n, a = self.rng.choice(candidates)
        log(f"  {a} deleted from {n['name']}'s kube-lb0")
        L.run("ip", "addr", "del", a, "dev", "kube-lb0", ns=n["ns"], check=False)
        self.faults["address deleted from kube-lb0"] += 1

    def api_fault(self):
        kind = self.rng.choice(["drop", "expire-watches", "expire-next", "close-next", "compact", "429", "500",
                                "outage"])
        if kind == "outage":
            return self.outage(self.rng.uniform(5, 20))
        action = {"drop": "drop", "expire-watches": "expire-watches", "compact": "compact",
                  "expire-next": "expire-next-watches?count=3", "close-next": "close-next-watches?count=3",
                  "429": f"fail?code=429&count={self.rng.randint(3, 10)}&retryAfter=1",
                  "500": f"fail?code=500&count={self.rng.randint(3, 10)}"}[kind]
        log(f"  API fault {action}")
        self.emulator(action)
        self.faults[f"API {kind}"] += 1

    def data_plane(self):
        return {n["name"]: self.c.lb_addresses(n) for n in self.c.nodes}, self.pool_routes()

    def outage(self, seconds):
        """Every request 503 and every connection dropped for `seconds`, from
        a quiet point: the agents must keep announcing what they had (every
        kube-lb0 and the router's FIB unchanged throughout, sampled every
        0.3 s); a Service or two are created meanwhile behind the allocator's
        back."""
        self.quiet_point()
        before = self.data_plane()
        log(f"  API outage {seconds:.0f} s (every request 503, every connection dropped)")
        self.emulator("fail?code=503&count=100000000")
        self.emulator("drop")
        end = time.monotonic() + seconds
        lapses = []
        try:
            for _ in range(self.rng.randint(1, 2)):
                if len(self.model.services) < MAX_SERVICES:
                    self.create_service(via_admin=True)
            while time.monotonic() < end:
                now = self.data_plane()
                if now != before:
                    lapses.append(f"{time.strftime('%H:%M:%S')} {now} (was {before})")
                time.sleep(0.3)
        finally:
            self.emulator("reset-faults")
        if lapses:
            raise AssertionError("the data plane changed during the API outage:\n" + "\n".join(lapses[:5]))
        self.faults["API outage 60 s" if seconds >= 60 else "API outage 5-20 s"] += 1
        # The Services created meanwhile have no EndpointSlices yet.
        for name, s in self.model.services.items():
            if self.api("GET", f"{SLICES}/{name}-v4", check=False).get("kind") != "EndpointSlice":
                self.put_slices(name)

    def step(self):
        actions = [(self.create_service, 14), (self.delete_service, 8), (self.update_service, 10),
                   (self.change_endpoints, 12), (self.node_label, 4),
                   (lambda: self.agent_restart(signal.SIGKILL), 4), (lambda: self.agent_restart(signal.SIGTERM), 2),
                   (self.kill_leader, 3), (self.router_restart, 2), (self.delete_address, 4), (self.api_fault, 10)]
        fn = self.rng.choices([a for a, _ in actions], weights=[w for _, w in actions])[0]
        fn()

    # --- the invariant checker ---------------------------------------------
    def served_by(self, s, node, family):
        if node in self.model.excluded:
            return False
        if s["policy"] == "Cluster":
            return True
        return bool(s["eps"].get(node))  # Local: a ready endpoint here (both families' slices list it)

    def expectations(self):
        """(problems with the Services' addresses, {node: kube-lb0 set},
        {prefix: next hops}). Reads the Services from the API."""
        items = {s["metadata"]["name"]: s for s in self.api("GET", SERVICES).get("items", [])}
        problems = []
        extra = set(items) - set(self.model.services)
        if extra:
            problems.append(f"Services that should be gone: {sorted(extra)}")
        holders = {}  # ip -> [names]
        addresses = {}  # name -> [(ip, family)]
        for name, s in self.model.services.items():
            obj = items.get(name)
            if not obj:
                problems.append(f"{name} missing from the API")
                continue
            ips = [i.get("ip") for i in obj.get("status", {}).get("loadBalancer", {}).get("ingress", []) or []]
            wanted = [FAMILY[f] for f in s["families"]]
            got = [ipaddress.ip_address(ip).version for ip in ips]
            if got != wanted:
                problems.append(f"{name} ({'+'.join(s['families'])}) has {ips}")
                continue
            for ip in ips:
                if ipaddress.ip_address(ip) not in pool_of(ipaddress.ip_address(ip).version):
                    problems.append(f"{name}'s {ip} is outside its pool")
                holders.setdefault(ip, []).append(name)
            addresses[name] = [(ip, v) for ip, v in zip(ips, got)]
        for ip, names in holders.items():
            if len(names) > 1 and not all(self.model.services[n]["share"] for n in names):
                problems.append(f"{ip} is on {names}, which do not share it")
        for family in (4, 6):
            shared = {ip for n, a in addresses.items() if self.model.services[n]["share"] for ip, v in a if v == family}
            if len(shared) > 1:
                problems.append(f"sharers of key {SHARE_KEY} hold several IPv{family} addresses: {sorted(shared)}")
        lb = {n["name"]: set() for n in self.c.nodes}
        hops = {}
        for name, addrs in addresses.items():
            s = self.model.services[name]
            for ip, family in addrs:
                prefix = host_prefix(ip)
                hops.setdefault(prefix, set())
                for n in self.c.nodes:
                    if self.served_by(s, n["name"], family):
                        lb[n["name"]].add(prefix)
                        hops[prefix].add(e2e.node_ip(n["i"]) if family == 4 else e2e.node_ip6(n["i"]))
        return problems, lb, hops

    def pool_routes(self):
        """The router's kernel routes inside the pools: {prefix: next hops}."""
        routes = {}
        for family, pool in ((4, V4_POOL), (6, V6_POOL)):
            out = L.run("ip", "-j", f"-{family}", "route", "show", "root", pool, ns=self.c.rns)
            for r in json.loads(out or "[]"):
                dst = r["dst"] if "/" in r["dst"] else host_prefix(r["dst"])
                routes[dst] = ({h.get("gateway", "") for h in r["nexthops"]} if "nexthops" in r
                               else {r.get("gateway", "")})
        return routes

    def mismatches(self):
        problems, lb, hops = self.expectations()
        if problems:
            return problems
        for n in self.c.nodes:
            have = self.c.lb_addresses(n)
            if have != lb[n["name"]]:
                problems.append(f"{n['name']}'s kube-lb0: missing {sorted(lb[n['name']] - have)}, "
                                f"extra {sorted(have - lb[n['name']])}")
        fib = self.pool_routes()
        for prefix in sorted(set(fib) | {p for p, h in hops.items() if h}):
            if fib.get(prefix, set()) != hops.get(prefix, set()):
                problems.append(f"router FIB {prefix}: {sorted(fib.get(prefix, set()))}, "
                                f"expected {sorted(hops.get(prefix, set()))}")
        leaders = list(self.leader())
        if len(leaders) != 1:
            problems.append(f"allocator replicas leading: {leaders}")
        if not problems:
            for prefix, h in hops.items():
                if h and not self.reachable(prefix.split("/")[0]):
                    problems.append(f"the client cannot reach {prefix}")
        return problems

    def reachable(self, ip):
        fam = "-6" if ":" in ip else "-4"
        return " 0% packet loss" in L.run("ping", fam, "-c1", "-W1", ip, ns=self.client, check=False)

    def check_processes(self):
        procs = [p for p in self.c.lab.procs]
        dead = [p.name for p in procs if not p.alive()]
        if dead:
            raise AssertionError(f"processes died: {dead}")
        for p in procs:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) // 1024
                fds = len(os.listdir(f"/proc/{p.pid}/fd"))
            except (OSError, StopIteration):
                continue
            r = self.resources.setdefault(p.pid, {"name": p.name, "rss0": rss, "fds0": fds})
            r["rss"], r["fds"] = max(r.get("rss", rss), rss), max(r.get("fds", fds), fds)
            fd_bound = EMULATOR_FD_BOUND if p.name == "emulator" else FD_BOUND
            if rss > r["rss0"] + RSS_BOUND_MIB or fds > r["fds0"] + fd_bound:
                raise AssertionError(f"{p.name} (pid {p.pid}) grew: RSS {r['rss0']} -> {rss} MiB "
                                     f"(bound +{RSS_BOUND_MIB}), fds {r['fds0']} -> {fds} (bound +{fd_bound})")

    def quiet_point(self):
        t0 = time.monotonic()
        last, since = [], None

        def converged():
            # Twice in a row, STABLE_S apart: a state that only passes
            # through the expectation (a restarted agent not yet reconciled)
            # does not count.
            nonlocal last, since
            last = self.mismatches()
            if last:
                since = None
            elif since is None:
                since = time.monotonic()
            return not last and time.monotonic() - since >= STABLE_S
        try:
            poll("the cluster to converge", converged, CONVERGE_S, interval=0.3)
        except L.Timeout:
            raise AssertionError(f"quiet point {self.quiet_points + 1}: not converged after {CONVERGE_S} s:\n  " +
                                 "\n  ".join(last)) from None
        took = since - t0  # until the first of the two passing checks
        self.max_converge = max(self.max_converge, took)
        self.quiet_points += 1
        self.check_processes()
        log(f"quiet point {self.quiet_points}: converged in {took:.1f} s (held {STABLE_S} s), {len(self.model.services)} Services, "
            f"excluded {sorted(self.model.excluded)}")

    def growth(self):
        """The largest RSS and descriptor growth per kind of process."""
        kinds = {}
        for r in self.resources.values():
            kind = r["name"].split("-")[0]
            rss, fds = kinds.get(kind, (0, 0))
            kinds[kind] = (max(rss, r["rss"] - r["rss0"]), max(fds, r["fds"] - r["fds0"]))
        return "growth (RSS MiB / fds, bound +%d / +%d, emulator +%d fds): %s" % (
            RSS_BOUND_MIB, FD_BOUND, EMULATOR_FD_BOUND, ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(kinds.items())))


def handles_sigterm(pid):
    """Whether the process blocks or catches SIGTERM (its main has started)."""
    bit = 1 << (signal.SIGTERM - 1)
    try:
        with open(f"/proc/{pid}/status") as f:
            masks = [line.split()[1] for line in f if line.startswith(("SigBlk:", "SigCgt:"))]
    except OSError:
        return False
    return any(int(m, 16) & bit for m in masks)


def expect_clean_exit(proc, rc):
    """A SIGTERM must end Herald's daemons with 0 (under the sanitizers a
    leak or error report makes it non-zero)."""
    if rc != 0:
        tail = "\n".join(proc.output().splitlines()[-30:])
        raise AssertionError(f"{proc.name} exited {rc} on SIGTERM:\n{tail}")


def run(c, args):
    rng = random.Random(args.seed)
    e2e.setup_objects(c, ipv6=True)
    client = c.add_client()
    L.run("ip", "route", "replace", "default", "via", e2e.ROUTER_V4, ns=client)
    L.run("ip", "-6", "route", "replace", "default", "via", e2e.ROUTER_V6, ns=client)
    ch = Chaos(c, rng, client)
    c.router.start()
    for identity, port in ALLOCATORS.items():
        ch.replicas[identity] = c.start_allocator(identity, port)
    for n in c.nodes:
        c.start_agent(n)
    for _ in range(4):
        ch.create_service()
    ch.quiet_point()
    start = time.monotonic()
    long_outage_at = args.duration / 2 if args.long_outage else None
    steps = 0
    while time.monotonic() - start < args.duration:
        for _ in range(rng.randint(1, 4)):
            ch.step()
            steps += 1
        if long_outage_at is not None and time.monotonic() - start >= long_outage_at:
            ch.outage(60)
            long_outage_at = None
        ch.quiet_point()
    for p in [n["agent"] for n in c.nodes] + list(ch.replicas.values()):
        expect_clean_exit(p, p.stop(signal.SIGTERM, timeout=15))
    faults = ", ".join(f"{k} {v}" for k, v in sorted(ch.faults.items()))
    print(f"chaos summary: seed {args.seed}, {time.monotonic() - start:.0f} s, {steps} actions, "
          f"{ch.quiet_points} quiet points all converged (slowest {ch.max_converge:.1f} s), "
          f"{ch.growth()}; injected: {faults}; lost: nothing", flush=True)


def main(argv):
    ap = argparse.ArgumentParser(description="Herald's chaos soak (issue 13)")
    ap.add_argument("router", nargs="?", default="bird", choices=sorted(e2e.TOOLS))
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    ap.add_argument("--duration", type=float, default=270, help="seconds of actions (default 270)")
    ap.add_argument("--long-outage", action="store_true", help="one 60 s API outage in the middle")
    args = ap.parse_args(argv[1:])
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 32)
    print(f"chaos: seed {args.seed} (replay: python3 tests/e2e/chaos.py {args.router} --seed {args.seed} "
          f"--duration {args.duration:.0f}{' --long-outage' if args.long_outage else ''})", flush=True)
    # Under AddressSanitizer freed memory waits in a 256 MB quarantine, which
    # would hide the processes' own growth behind the bound.
    os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=16"]))
    return e2e.run_cluster([argv[0], args.router], "chaos", lambda c, _argv: run(c, args), tools=None,
                           ipv6_peers=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
