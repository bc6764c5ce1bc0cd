#!/usr/bin/env python3
# End-to-end scenario of issue 8, weighted ECMP (docs/agent.md "Weighted
# ECMP"): e2e.Cluster (emulator, allocator, three agents, a router on the
# nodes' bridge) with a remote ServiceGroup that has `weightedECMP: true` and
# a Service with externalTrafficPolicy Local.
#
#   python3 weighted.py ROUTER      ROUTER: frr bird
#
# Ready endpoints 1, 2 and 3 on node-0, node-1 and node-2; each node's route
# carries the transitive link-bandwidth community for its count:
#   frr   the kernel route has three next hops with weights in the ratio
#         1:2:3; scaling to 3, 1 and 2 endpoints changes them to 3:1:2
#   bird  the same routes give plain ECMP: three next hops, equal weights
# Exit: 0 pass, 1 fail, 77 skip (1 instead of 77 under CI=true).
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import e2e as E  # noqa: E402
import lab as L  # noqa: E402
from lab import log, poll  # noqa: E402

SLICE_PATH = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"


def weights(ns, prefix):
    """The router's kernel next hops of prefix: {gateway: weight}."""
    out = json.loads(L.run("ip", "-j", "-4", "route", "show", prefix, ns=ns) or "[]")
    for r in out:
        if r.get("dst") in (prefix, prefix.split("/")[0]):
            if "nexthops" in r:
                return {h.get("gateway", ""): h.get("weight", 1) for h in r["nexthops"]}
            return {r.get("gateway", ""): 1}
    return {}


def shares_match(w, endpoints):
    """Whether the three next hops' weights split traffic as the endpoint
    counts do: each share within 0.03 of its endpoints' share (FRR scales the
    values to weights summing to about 100 and truncates: 1:2:3 gave 16, 33,
    50)."""
    if set(w) != {E.node_ip(i) for i in range(3)}:
        return False
    total, want = sum(w.values()), sum(endpoints)
    return all(abs(w[E.node_ip(i)] / total - k / want) <= 0.03 for i, k in enumerate(endpoints))


def bandwidths(c, prefix):
    """The link-bandwidth values (bytes/s) of the router's paths: {next hop: [values]}."""
    return {h: sorted(int(e.rsplit(":", 1)[1]) for e in r.ext if e.startswith("link-bandwidth:"))
            for r in c.router.routes(prefix) for h in r.next_hops}


def per_node(*endpoints):
    """What bandwidths() should show: 1 Mbit/s (125 000 bytes/s) per endpoint, our ASN."""
    return {E.node_ip(i): [k * 125000] for i, k in enumerate(endpoints)}


def expect(c, prefix, what, fn, timeout):
    """poll(), with the router's route and paths in the failure message."""
    try:
        return poll(what, fn, timeout)
    except L.Timeout as e:
        route = L.run("ip", "route", "show", prefix, ns=c.rns).strip()
        raise AssertionError(f"{e}\nrouter FIB: {route or '(none)'}\nrouter paths: {bandwidths(c, prefix)}") from None


def scenario(c, kind):
    E.setup_objects(c)
    c.patch(f"/apis/herald.dev/v1/namespaces/{E.NAMESPACE}/servicegroups/default",
            {"spec": {"remote": {"weightedECMP": True}}})
    E.start_herald(c)
    c.create("/api/v1/namespaces/default/services", E.web_service(policy="Local"))
    c.create(SLICE_PATH, E.endpoint_slice({"node-0": 1, "node-1": 2, "node-2": 3}))
    ip = poll("the allocator gives web an address", lambda: c.service_ip("web"), 30)
    prefix = f"{ip}/32"
    want = (1, 2, 3) if kind == "frr" else (1, 1, 1)
    got = expect(c, prefix, f"{prefix}: three next hops, weights in the ratio {want}",
                 lambda: shares_match(weights(c.rns, prefix), want) and weights(c.rns, prefix), 60)
    expect(c, prefix, "the router's paths carry 1, 2 and 3 Mbit/s",
           lambda: bandwidths(c, prefix) == per_node(1, 2, 3), 30)
    log(f"endpoints 1, 2, 3: {L.run('ip', 'route', 'show', prefix, ns=c.rns).strip()}  -> {got}")
    c.api("PUT", f"{SLICE_PATH}/web-1", E.endpoint_slice({"node-0": 3, "node-1": 1, "node-2": 2}))
    want = (3, 1, 2) if kind == "frr" else (1, 1, 1)
    expect(c, prefix, "the router's paths carry 3, 1 and 2 Mbit/s",
           lambda: bandwidths(c, prefix) == per_node(3, 1, 2), 30)
    got = expect(c, prefix, f"{prefix}: weights in the ratio {want} after scaling",
                 lambda: shares_match(weights(c.rns, prefix), want) and weights(c.rns, prefix), 30)
    log(f"endpoints 3, 1, 2: {L.run('ip', 'route', 'show', prefix, ns=c.rns).strip()}  -> {got}")


def main(argv):
    return E.run_cluster(argv[:2] if len(argv) == 2 else argv[:1], "e2e-weighted",
                         lambda c, _argv: scenario(c, argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
