#!/usr/bin/env python3
# Unit test of rbac_check.py (the RBAC-versus-API-calls comparison of
# security.py): synthetic rules and request-log entries, each problem kind
# found (a call not granted, a rule never used, a cluster-wide rule used only
# in herald-system, resourceNames, a RoleBinding's namespace), and allowed
# cases passing. No cluster, no root.
#
#   python3 rbac_check_test.py      exit 0 pass, 1 fail
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbac_check as R  # noqa: E402

NS = R.NAMESPACE


def role(kind, name, rules, ns=None):
    meta = {"name": name} if ns is None else {"name": name, "namespace": ns}
    return {"kind": kind, "metadata": meta, "rules": rules}


def binding(kind, name, role_kind, sa, ns=None):
    meta = {"name": name} if ns is None else {"name": name, "namespace": ns}
    return {"kind": kind, "metadata": meta, "roleRef": {"kind": role_kind, "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": NS}]}


def docs(agent_cluster_rules, agent_ns_rules, allocator_ns_rules=None):
    return [
        role("ClusterRole", "herald-agent", agent_cluster_rules),
        binding("ClusterRoleBinding", "herald-agent", "ClusterRole", "herald-agent"),
        role("Role", "herald-agent", agent_ns_rules, NS),
        binding("RoleBinding", "herald-agent", "Role", "herald-agent", NS),
        role("Role", "herald-allocator", allocator_ns_rules or [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get"],
             "resourceNames": ["herald-allocator"]}], NS),
        binding("RoleBinding", "herald-allocator", "Role", "herald-allocator", NS),
    ]


def call(binary, verb, resource, ns="", name="", group="", sub="", target=None):
    return {"user": R.user_of(binary), "verb": verb, "code": 200, "apiGroup": group, "resource": resource,
            "subresource": sub, "namespace": ns, "name": name, "target": target or f"/x/{resource}"}


LEASE_GET = call("allocator", "get", "leases", NS, "herald-allocator", group="coordination.k8s.io")
failures = []


def expect(problems, *wanted, none=False):
    text = "\n".join(problems)
    if none and problems:
        failures.append(f"expected no problem, got:\n{text}")
    for w in wanted:
        if not any(w in p for p in problems):
            failures.append(f"expected a problem with {w!r}, got:\n{text or '(none)'}")


def main():
    svc_rw = [{"apiGroups": [""], "resources": ["services"], "verbs": ["list", "watch"]}]
    secrets = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]}]
    agent_calls = [call("agent", "list", "services"), call("agent", "watch", "services"),
                   call("agent", "list", "secrets", NS), call("agent", "watch", "secrets", NS)]

    # Exactly what is used: no problem.
    p, report = R.check(docs(svc_rw, secrets), agent_calls + [LEASE_GET], {}, {})
    expect(p, none=True)
    if not any("allowed by ClusterRole herald-agent" in line for line in report):
        failures.append("report lacks the granting role:\n" + "\n".join(report))

    # A call no rule allows: a 403 in a real cluster.
    p, _ = R.check(docs(svc_rw, secrets), agent_calls + [call("agent", "patch", "services", "default", "web"),
                                                         LEASE_GET], {}, {})
    expect(p, "patch services in default (name web) is not granted")
    # ... unless allow-listed.
    p, _ = R.check(docs(svc_rw, secrets), agent_calls + [call("agent", "patch", "services", "default", "web"),
                                                         LEASE_GET], {}, {("agent", "patch", "services"): "why"})
    expect(p, none=True)

    # A Role's grant does not reach another namespace.
    p, _ = R.check(docs(svc_rw, secrets), agent_calls + [call("agent", "list", "secrets", "tenant"), LEASE_GET], {}, {})
    expect(p, "list secrets in tenant")

    # A rule never used.
    p, _ = R.check(docs(svc_rw + [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}], secrets),
                   agent_calls + [call("agent", "list", "nodes"), LEASE_GET], {}, {})
    expect(p, "grants get nodes (cluster): granted and never used")
    p, _ = R.check(docs(svc_rw + [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}], secrets),
                   agent_calls + [call("agent", "list", "nodes"), LEASE_GET],
                   {("agent", "get", "nodes", "cluster"): "why"}, {})
    expect(p, none=True)

    # Cluster-wide but used only in herald-system: a Role would do.
    p, _ = R.check(docs(svc_rw + secrets, []), agent_calls + [LEASE_GET], {}, {})
    expect(p, "grants list secrets (cluster): granted cluster-wide but used only in herald-system")

    # resourceNames: another name, or a create (no name), is not allowed.
    p, _ = R.check(docs(svc_rw, secrets), agent_calls + [
        call("allocator", "get", "leases", NS, "other", group="coordination.k8s.io")], {}, {})
    expect(p, "get coordination.k8s.io/leases in herald-system (name other) is not granted",
           "grants get coordination.k8s.io/leases (herald-system, names herald-allocator): granted and never used")
    # ... a watch named by fieldSelector=metadata.name is.
    named_watch = call("allocator", "watch", "leases", NS, group="coordination.k8s.io",
                       target="/apis/coordination.k8s.io/v1/namespaces/herald-system/leases?watch=1&"
                              "fieldSelector=metadata.name%3Dherald-allocator")
    p, _ = R.check(docs(svc_rw, secrets, [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                           "verbs": ["watch"], "resourceNames": ["herald-allocator"]}]),
                   agent_calls + [named_watch], {}, {})
    expect(p, none=True)

    # Subresources are their own resource.
    p, _ = R.check(docs(svc_rw, secrets), agent_calls + [
        call("agent", "patch", "services", "default", "web", sub="status"), LEASE_GET], {}, {})
    expect(p, "patch services/status in default")

    # A binary with no call at all is a problem (its user not in the log).
    p, _ = R.check(docs(svc_rw, secrets), agent_calls, {}, {})
    expect(p, "allocator: made no API call")

    # The checked-in manifests parse and bind both ServiceAccounts.
    manifests = R.load_rbac(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "manifests"))
    for binary, sa in R.SERVICE_ACCOUNTS.items():
        if not R.grants_of(manifests, sa):
            failures.append(f"manifests/rbac grants {sa} nothing")

    for f in failures:
        print("FAIL:", f)
    print(f"{'FAIL' if failures else 'PASS'}: rbac_check ({len(failures)} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
