#!/usr/bin/env python3
# The RBAC half of issue 13's security defaults: the API calls each Herald
# binary made (the emulator's request log, one user per binary through
# --token-file, docs/emulator.md) against the rules manifests/rbac grants its
# ServiceAccount, evaluated as kube-apiserver's RBAC authorizer does:
#   - every call must be allowed (else it is a 403 in a real cluster);
#   - every granted (verb, resource) must be used by some call, and a
#     ClusterRole rule on a namespaced resource must be used outside
#     herald-system (else a Role there would do); exceptions only through an
#     allow-list with a reason each.
# Pure functions over parsed YAML and the request log; security.py runs it on
# a live cluster, and `python3 rbac_check.py MANIFESTS_DIR REQUESTS.json`
# re-checks a saved request log (security.py writes one with
# HERALD_SECURITY_REQUESTS=FILE).
import glob
import json
import os
import sys
import urllib.parse
from collections import namedtuple

import yaml

NAMESPACE = "herald-system"
# binary → ServiceAccount (manifests/rbac) and the user its token maps to.
SERVICE_ACCOUNTS = {"allocator": "herald-allocator", "agent": "herald-agent"}


def user_of(binary):
    return f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNTS[binary]}"


# One granted permission: scope None = cluster-wide (ClusterRoleBinding),
# else the namespace of the RoleBinding. resource is "plural" or
# "plural/subresource"; names: resourceNames, () = any.
Grant = namedtuple("Grant", "scope role group resource verb names")
# One API call as an authorizer sees it; ns "" = cluster-scoped or all namespaces.
Call = namedtuple("Call", "verb group resource ns name")

# Resources Herald touches that are namespaced (RBAC scope matters).
CLUSTER_SCOPED = {("", "nodes"), ("", "namespaces")}


def load_rbac(manifests_dir):
    docs = []
    for path in sorted(glob.glob(os.path.join(manifests_dir, "rbac", "*.yaml"))):
        with open(path) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    return docs


def grants_of(docs, sa):
    """Every (scope, group, resource, verb, names) the ServiceAccount sa of
    herald-system gets from the bindings in docs."""
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs
             if d["kind"] in ("Role", "ClusterRole")}
    out = []
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa and s.get("namespace") == NAMESPACE
                   for s in b.get("subjects", [])):
            continue
        scope = b["metadata"]["namespace"] if b["kind"] == "RoleBinding" else None
        ref = b["roleRef"]
        role = roles.get((ref["kind"], scope if ref["kind"] == "Role" else None, ref["name"]))
        if role is None:
            raise AssertionError(f"{b['kind']} {b['metadata']['name']} refers to a missing {ref['kind']} {ref['name']}")
        for rule in role.get("rules", []):
            for g in rule.get("apiGroups", []):
                for r in rule.get("resources", []):
                    for v in rule.get("verbs", []):
                        out.append(Grant(scope, f"{ref['kind']} {ref['name']}", g, r, v,
                                         tuple(rule.get("resourceNames", []))))
    return out


def call_of(entry):
    """The Call of one request-log entry (None for non-resource requests).
    list and watch with fieldSelector=metadata.name=X carry the name X, as the
    real server's RequestInfo does (what resourceNames can then match)."""
    if "resource" not in entry:
        return None
    resource = entry["resource"] + (f"/{entry['subresource']}" if entry.get("subresource") else "")
    name = entry.get("name", "")
    if entry["verb"] in ("list", "watch") and not name:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(entry["target"]).query)
        for sel in query.get("fieldSelector", []):
            for term in sel.split(","):
                key, _, value = term.partition("=")
                if key == "metadata.name":
                    name = value.lstrip("=")
    return Call(entry["verb"], entry.get("apiGroup", ""), resource, entry.get("namespace", ""), name)


def allows(g, c):
    if (g.group, g.resource, g.verb) != (c.group, c.resource, c.verb) and not (
            "*" in (g.group, g.resource, g.verb)):
        return False
    if g.scope is not None and c.ns != g.scope:
        return False
    return not g.names or (c.name != "" and c.name in g.names)


def calls_by_binary(requests):
    """{binary: {Call: count}} of the API requests each binary's user made
    (401s excluded: not authenticated, never authorized), and
    {binary: {path}} of its non-resource requests (discovery)."""
    calls, other = {b: {} for b in SERVICE_ACCOUNTS}, {b: set() for b in SERVICE_ACCOUNTS}
    users = {user_of(b): b for b in SERVICE_ACCOUNTS}
    for e in requests:
        b = users.get(e.get("user"))
        if b is None or e.get("code") == 401:
            continue
        c = call_of(e)
        if c is None:
            other[b].add(urllib.parse.urlsplit(e["target"]).path)
        else:
            calls[b][c] = calls[b].get(c, 0) + 1
    return calls, other


def key_of(binary, g):
    """How the allow-lists name a grant: (binary, verb, "group/resource", "cluster" or namespace)."""
    return (binary, g.verb, f"{g.group}/{g.resource}" if g.group else g.resource, g.scope or "cluster")


def check(docs, requests, unused_ok, missing_ok):
    """Compares; returns (problems, report lines). unused_ok: {key_of: reason}
    for grants no call used; missing_ok: {(binary, verb, resource): reason}
    for calls no rule allows."""
    problems, report = [], []
    calls, other = calls_by_binary(requests)
    for binary, sa in SERVICE_ACCOUNTS.items():
        grants = grants_of(docs, sa)
        mine = calls[binary]
        if not grants:
            problems.append(f"{binary}: no RBAC rules found for ServiceAccount {sa}")
        if not mine:
            problems.append(f"{binary}: made no API call (is its user in the request log?)")
        report.append(f"{binary} ({sa}): {sum(mine.values())} API calls, {len(mine)} distinct; "
                      f"{len(grants)} granted (verb, resource, scope); non-resource paths: {sorted(other[binary])}")
        for c, n in sorted(mine.items()):
            by = [g for g in grants if allows(g, c)]
            resource = f"{c.group}/{c.resource}" if c.group else c.resource
            where = c.ns or "cluster"
            line = f"  {c.verb:7} {resource:34} {where:14} {c.name or '-':24} x{n:<5}"
            if by:
                report.append(line + " allowed by " + ", ".join(sorted({g.role for g in by})))
            elif (binary, c.verb, resource) in missing_ok:
                report.append(line + " NOT GRANTED, allow-listed: " + missing_ok[(binary, c.verb, resource)])
            else:
                report.append(line + " NOT GRANTED")
                problems.append(f"{binary}: {c.verb} {resource} in {where} (name {c.name or '-'}) is not granted "
                                f"to {sa}: 403 Forbidden in a real cluster")
        for g in grants:
            users = [c for c in mine if allows(g, c)]
            k = key_of(binary, g)
            namespaced = (g.group, g.resource.split("/")[0]) not in CLUSTER_SCOPED
            if not users:
                why = "granted and never used"
            elif g.scope is None and namespaced and all(c.ns == NAMESPACE for c in users):
                why = f"granted cluster-wide but used only in {NAMESPACE} (a Role there would do)"
            else:
                continue
            if k in unused_ok:
                report.append(f"  {g.role}: {g.verb} {k[2]} ({k[3]}) {why}; allow-listed: {unused_ok[k]}")
            else:
                problems.append(f"{binary}: {g.role} grants {g.verb} {k[2]} ({k[3]}{', names ' + ','.join(g.names) if g.names else ''}): {why}")
    return problems, report


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} MANIFESTS_DIR REQUESTS.json", file=sys.stderr)
        return 2
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from security import RBAC_MISSING_OK, RBAC_UNUSED_OK  # noqa: E402
    with open(argv[2]) as f:
        requests = json.load(f)
    problems, report = check(load_rbac(argv[1]), requests, RBAC_UNUSED_OK, RBAC_MISSING_OK)
    print("\n".join(report + [f"PROBLEM: {p}" for p in problems]))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
