#!/usr/bin/env python3
# Benchmark 5 of issue 11 (BENCHMARKS.md "Scale"): N LoadBalancer Services
# created at once (one bulk request, /_emulator/objects) on the e2e cluster
# (emulator, allocator, three herald-agents, a BIRD or FRR router with ECMP
# into its kernel, e2e.Cluster; one IPv4 session per node carries both
# families). Measured:
#   - time from the bulk create to the router's kernel FIB holding every
#     expected route with all three next hops (polled every 0.2 s);
#   - the router's update counter per session (peers.Router.updates: FRR
#     counts UPDATE messages received, BIRD counts imported route updates);
#   - how long after convergence the API writes other than Leases go on
#     (Events, annotations), read from the emulator's request log
#     (/_emulator/requests, docs/emulator.md, read and cleared every second);
#   - at rest (the next REST seconds): each agent's RSS and CPU share
#     (/proc/PID/status VmRSS, /proc/PID/stat utime+stime), the API writes
#     per minute, Leases apart (goal: no other), and the router's updates.
#
#   - optionally (CHURN > 0), then CHURN more Services created one a second
#     on the converged cluster: per Service, each agent's plans and CPU and
#     the API writes (what one change costs at this scale);
#   - last, the first node's agent restarted (SIGTERM, the default
#     `--shutdown restart`; the router's graceful restart keeps its routes):
#     from the new process's exec, when /readyz answers ok (every informer
#     listed, the first plan applied) with the CPU and RSS it took, and when
#     its session is Established again (what an upgrade costs at this scale).
#
#   python3 bench_scale.py ROUTER [N] [dual|ipv6] [REST] [CHURN]    defaults 1000 dual 30 0
#
# Addresses: only documentation ranges may be used, and the IPv4 ones hold
# 768 addresses, so `dual` (RequireDualStack Services) shares addresses:
# Service k carries the sharing key k mod A (A = min(N, 500) addresses per
# family, two /24 pools) and its own port, so 10,000 Services make 500 IPv4
# and 500 IPv6 routes. `ipv6` gives every Service its own /128
# (2001:db8:5ca1::/112): N routes.
# Exit: 0 done, 1 failure, 77 skip (1 under CI=true).
import collections
import os
import re
import sys
import time

import e2e
from lab import log, poll, run

V4_POOLS = ["198.51.100.0/24", "203.0.113.0/24"]
V6_POOL, V6_SUBNET = "2001:db8:5ca1::/112", "2001:db8:5ca1::/64"
MAX_SHARED = 500
GROUP = {"remote": {
    "v4pools": [{"pool": p, "subnet": p, "aggregation": "/32"} for p in V4_POOLS],
    "v6pool": {"pool": V6_POOL, "subnet": V6_SUBNET, "aggregation": "/128"}}}
WRITES = {"create", "update", "patch", "delete"}


def services(n, family):
    """The N Service objects and the number of addresses per family."""
    addresses = min(n, MAX_SHARED) if family == "dual" else n
    objs = []
    for k in range(n):
        if family == "dual":
            svc = e2e.web_service(f"s{k}", annotations={"herald.dev/allow-shared-ip": f"k{k % addresses}"},
                                  ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="RequireDualStack")
        else:
            svc = e2e.web_service(f"s{k}", ipFamilies=["IPv6"], ipFamilyPolicy="SingleStack")
        svc["spec"]["ports"] = [{"name": "p", "port": 1000 + k // addresses, "targetPort": 8080, "protocol": "TCP"}]
        objs.append(svc)
    return objs, addresses


def churn(c, family, count, addresses):
    """`count` Services created one a second on the converged cluster (dual:
    each sharing an existing address on a port of its own; ipv6: each with a
    new /128): per Service, each agent's plans and CPU (ms) and the API
    writes but Leases."""
    agent_pids = {n["name"]: n["agent"].pid for n in c.nodes}
    plans0 = [agent_counter(n, "herald_agent_plans_total") for n in c.nodes]
    cpu0 = {k: proc_sample(p)[0] for k, p in agent_pids.items()}
    c.api("POST", "/_emulator/requests?clear=1")
    writes = []
    for k in range(count):
        if family == "dual":
            svc = e2e.web_service(f"churn{k}", annotations={"herald.dev/allow-shared-ip": f"k{k % addresses}"},
                                  ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="RequireDualStack")
            svc["spec"]["ports"] = [{"name": "p", "port": 30000 + k, "targetPort": 8080, "protocol": "TCP"}]
        else:
            svc = e2e.web_service(f"churn{k}", ipFamilies=["IPv6"], ipFamilyPolicy="SingleStack")
        c.api("POST", "/api/v1/namespaces/default/services", svc)
        time.sleep(1.0)
        writes += [e for e in c.api("POST", "/_emulator/requests?clear=1")
                   if e.get("verb") in WRITES and e.get("resource") != "leases"]
    plans = [(agent_counter(n, "herald_agent_plans_total") - p) / count for n, p in zip(c.nodes, plans0)]
    cpu = [(proc_sample(p)[0] - cpu0[k]) / count * 1e3 for k, p in agent_pids.items()]
    return {"count": count, "plans": plans, "cpu_ms": cpu, "writes": len(writes) / count}


def restart(c):
    """The first node's agent SIGTERMed and started again: seconds from exec
    to /readyz ok and to the router's session Established, and the new
    process's CPU seconds and RSS (MB) when ready."""
    n = c.nodes[0]
    hop = e2e.node_ip(n["i"])
    rc = n["agent"].stop(timeout=30)
    if rc != 0:
        raise AssertionError(f"{n['name']}'s agent exited {rc} after SIGTERM")
    poll(f"the router sees {n['name']}'s session go", lambda: not c.router.established(hop), 30, interval=0.05)
    t0 = time.monotonic()
    c.start_agent(n)
    poll(f"{n['name']}'s agent ready again", lambda: c.agent_ready(n), 120, interval=0.05)
    ready = time.monotonic() - t0
    cpu, rss = proc_sample(n["agent"].pid)
    poll(f"{n['name']}'s session established again", lambda: c.router.established(hop), 120, interval=0.05)
    return {"node": n["name"], "ready_s": ready, "established_s": time.monotonic() - t0,
            "cpu_s": cpu, "rss_mb": rss / 1e6}


def full_routes(ns, fam, prefix_start, hops):
    """Routes in ns's main table whose destination starts with prefix_start
    and that have `hops` next hops."""
    out = run("ip", "-o", fam, "route", "show", ns=ns, timeout=60)
    return sum(1 for line in out.splitlines()
               if line.startswith(prefix_start) and len(re.findall(r"nexthop via", line)) >= hops)


def proc_sample(pid):
    """(CPU seconds used, RSS bytes) of pid."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/status") as f:
        rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), rss


def agent_counter(n, name):
    """An unlabelled counter from node n's agent's /metrics (0 if absent)."""
    text = run("curl", "-s", "http://127.0.0.1:7473/metrics", ns=n["ns"], check=False) or ""
    return next((float(line.split()[1]) for line in text.splitlines() if line.startswith(name + " ")), 0.0)


def updates(c):
    return sum(c.router.updates(nb.address) for nb in c.router.neighbors)


def measure(c, n, family, rest, churn_count=0):
    e2e.setup_objects(c, group=GROUP, ipv6=True)
    e2e.start_herald(c)
    c.router.wait_established([nb.address for nb in c.router.neighbors], timeout=60)
    objs, addresses = services(n, family)
    want = {"-4": addresses if family == "dual" else 0, "-6": addresses}
    starts = {"-4": tuple(p.split(".0/")[0] + "." for p in V4_POOLS), "-6": "2001:db8:5ca1::"}
    hops = len(c.nodes)
    updates_before = updates(c)
    agent_pids = {n_["name"]: n_["agent"].pid for n_ in c.nodes}
    cpu_before = {k: proc_sample(p)[0] for k, p in agent_pids.items()}
    t0 = time.monotonic()
    created = c.api("POST", "/_emulator/objects", objs)
    t_created = time.monotonic() - t0
    if created.get("created") != n:
        raise AssertionError(f"bulk create: {created}")
    log(f"{n} Services created in {t_created:.1f} s; waiting for {want} routes via {hops} next hops")
    have = {}

    def converged():
        dead = [p.name for p in [c.allocator] + [n_["agent"] for n_ in c.nodes] if not p.alive()]
        if dead:
            raise AssertionError(f"exited while converging: {', '.join(dead)}")
        for fam, count in want.items():
            if count:
                have[fam] = full_routes(c.rns, fam, starts[fam], hops)
        return all(have.get(f, 0) >= k for f, k in want.items())
    try:
        poll(f"{sum(want.values())} routes via {hops} next hops", converged, 120 + n * 0.1, interval=0.2)
    except AssertionError as e:
        raise AssertionError(f"{e}; have {have}") from None
    t_full = time.monotonic() - t0
    updates_converge = updates(c) - updates_before
    log(f"converged after {t_full:.1f} s; router updates {updates_converge}; resting 5 + {rest} s")
    settled, drained = settle(c, 60 + n * 0.03)
    log(f"API writes other than Leases stopped {settled:.1f} s after convergence" if settled is not None
        else "API writes other than Leases still going; measuring anyway")
    log("writes after convergence (verb resource by client: count): " +
        (", ".join(f"{v} {r} by {w}: {k}" for (v, r, w), k in drained.most_common(8)) or "none"))
    log("agents' CPU from the bulk create until the writes stopped (s): " +
        " / ".join(f"{proc_sample(p)[0] - cpu_before[k]:.1f}" for k, p in agent_pids.items()) +
        "; their plans so far: " + " / ".join(f"{agent_counter(n_, 'herald_agent_plans_total'):.0f}"
                                               for n_ in c.nodes))
    agents = agent_pids
    u0 = updates(c)
    s0 = {k: proc_sample(p) for k, p in agents.items()}
    writes = api_writes(c, rest)
    s1 = {k: proc_sample(p) for k, p in agents.items()}
    u1 = updates(c)
    churned = churn(c, family, churn_count, addresses) if churn_count else None
    restarted = restart(c)
    lease_writes = [w for w in writes if w[1] == "leases"]
    other = [f"{verb} {resource} by {client}" for verb, resource, client in writes if resource != "leases"]
    return {"n": n, "family": family, "addresses": addresses, "routes": sum(want.values()),
            "created_s": t_created, "full_s": t_full, "updates": updates_converge, "rest_s": rest, "churn": churned,
            "restart": restarted,
            "settled_s": settled, "rest_updates": u1 - u0,
            "cpu_pct": {k: (s1[k][0] - s0[k][0]) / rest * 100 for k in agents},
            "rss_mb": {k: s1[k][1] / 1e6 for k in agents},
            "lease_writes_min": len(lease_writes) * 60 / rest, "other_writes_min": len(other) * 60 / rest,
            "other_writes": sorted(collections.Counter(other).items(), key=lambda kv: -kv[1])[:5]}


def api_writes(c, seconds, interval=1.0):
    """The API writes of the next `seconds`, as (verb, resource, userAgent),
    from the emulator's request log read and cleared every `interval` (it
    keeps only the last 5000 requests)."""
    out = []
    c.api("POST", "/_emulator/requests?clear=1")
    end = time.monotonic() + seconds
    while True:
        time.sleep(max(0.0, min(interval, end - time.monotonic())))
        for e in c.api("POST", "/_emulator/requests?clear=1"):
            if e.get("verb") in WRITES:
                # The emulator logs what an authorizer sees: services/status
                # apart from services (the allocator's status, the agents' annotations).
                resource = e.get("resource") or "?"
                if e.get("subresource"):
                    resource += "/" + e["subresource"]
                out.append((e["verb"], resource, e.get("userAgent") or "?"))
        if time.monotonic() >= end:
            return out


def settle(c, timeout):
    """(Seconds until a whole second passes with no API write but Leases,
    or None if that does not happen within timeout; the writes but Leases
    meanwhile, counted by (verb, resource, client)): the Events and
    annotations of a large change drain after the routes converged."""
    t0 = time.monotonic()
    seen = collections.Counter()
    while time.monotonic() - t0 < timeout:
        other = [w for w in api_writes(c, 1.0) if w[1] != "leases"]
        if not other:
            return time.monotonic() - t0, seen
        seen.update(other)
    return None, seen


def report(r, router_kind, argv):
    print(f"command: sudo python3 tests/e2e/bench_scale.py {' '.join(argv[1:])}")
    kind = ("dual-stack, addresses shared" if r["family"] == "dual" else "IPv6, one /128 each")
    counter = "UPDATE messages received" if router_kind == "frr" else "imported route updates"
    print(f"router: {router_kind}; {r['n']:,} Services ({kind}); router's counter: {counter}; "
          f"at rest: {r['rest_s']} s")
    print("| Services | routes (3 next hops each) | created in | full convergence at the router | "
          "router updates | API writes stop | agent RSS (MB) | agent CPU at rest | "
          "API writes/min at rest: Leases / other | router updates at rest |")
    print("|---|---:|---:|---:|---:|---:|---|---|---|---:|")
    rss = " / ".join(f"{v:.0f}" for v in r["rss_mb"].values())
    cpu = " / ".join(f"{v:.2f}%" for v in r["cpu_pct"].values())
    stop = f"+{r['settled_s']:.0f} s" if r["settled_s"] is not None else "not within the limit"
    print(f"| {r['n']:,} | {r['routes']:,} | {r['created_s']:.1f} s | {r['full_s']:.1f} s | {r['updates']:,} | "
          f"{stop} | {rss} | {cpu} | {r['lease_writes_min']:.0f} / {r['other_writes_min']:.0f} | "
          f"{r['rest_updates']} |")
    if r["other_writes"]:
        print("Writes other than Leases at rest (verb, resource, client: count): "
              + ", ".join(f"{w}: {k}" for w, k in r["other_writes"]))
    if r["churn"]:
        ch = r["churn"]
        print(f"Then {ch['count']} Services created one a second: per Service, plans per agent "
              + " / ".join(f"{p:.1f}" for p in ch["plans"]) + ", agent CPU "
              + " / ".join(f"{t:.0f}" for t in ch["cpu_ms"]) + f" ms, API writes but Leases {ch['writes']:.1f}")
    rs = r["restart"]
    print(f"Then {rs['node']}'s agent restarted (SIGTERM, --shutdown restart): ready (/readyz, first plan "
          f"applied) {rs['ready_s']:.1f} s after exec, having used {rs['cpu_s']:.1f} s of CPU and "
          f"{rs['rss_mb']:.0f} MB RSS; its session Established again after {rs['established_s']:.1f} s")
    sys.stdout.flush()


def bench(c, argv):
    n = int(argv[2]) if len(argv) > 2 else 1000
    family = argv[3] if len(argv) > 3 else "dual"
    rest = int(argv[4]) if len(argv) > 4 else 30
    churn_count = int(argv[5]) if len(argv) > 5 else 0
    if family not in ("dual", "ipv6") or n < 1 or rest < 1 or churn_count < 0:
        raise AssertionError(f"usage: {argv[0]} bird|frr [N] [dual|ipv6] [REST] [CHURN]")
    report(measure(c, n, family, rest, churn_count), argv[1], argv)


if __name__ == "__main__":
    sys.exit(e2e.run_cluster(sys.argv, "scale", bench, usage_extra=" [N] [dual|ipv6] [REST] [CHURN]"))
