#!/usr/bin/env python3
"""The installation through the real kubectl (suite 'manifests').

  apply_test.py EMULATOR_BINARY MANIFESTS_DIR [BUILD_DIR]

1. `kubectl kustomize MANIFESTS_DIR` renders, and the rendered objects keep
   the promises of issue 12: least-privilege RBAC (no wildcards, Secrets and
   Leases only in herald-system, no escalation verbs), the allocator locked
   down (non-root, read-only root, no capabilities, probes, resources, two
   replicas), the agent with host networking and only the network
   capabilities, NODE_NAME from the downward API, a grace period above its
   drain time, tolerating every taint, one node at a time.
2. A herald-kube-emulator with no CRDs loaded (started here, killed by pid)
   accepts every rendered object through `kubectl apply -f`, including the
   CRDs, which it then serves; `kubectl apply -k MANIFESTS_DIR/examples`
   creates every example; `kubectl get herald` lists them by category; the
   invalid examples marked "emulator" are refused with 422 Invalid.
3. Every flag the Deployment and DaemonSet pass appears in the --help of
   BUILD_DIR's herald-allocator / herald-agent (the manifests do not drift
   from the binaries; a missing binary is a failure).
Exit 77 (skip) without /usr/bin/kubectl; under CI=true that is a failure.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))
import emulator_test as emu_lib  # noqa: E402  (Emulator, kubectl(): the emulator tests' helpers)
from checks import check, skip, verdict  # noqa: E402

EMULATOR, MANIFESTS = sys.argv[1], os.path.abspath(sys.argv[2])
BUILD = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None

UNRELATED_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.test}
spec:
  group: example.test
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""



def find(objs, kind, name):
    return next((o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name), None)


def check_rbac(objs):
    for o in objs:
        if o["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in o["rules"]:
            where = f"{o['kind']} {o['metadata']['name']}"
            check("*" not in rule.get("verbs", []) + rule.get("resources", []) + rule.get("apiGroups", []),
                  f"{where}: no wildcards: {rule}")
            check(not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule["verbs"]),
                  f"{where}: no escalation verbs: {rule}")
            if o["kind"] == "ClusterRole":
                check(not {"secrets", "leases"} & set(rule["resources"]),
                      f"{where}: Secrets and Leases only in herald-system: {rule}")
    agent = find(objs, "ClusterRole", "herald-agent")
    writes = [(r["resources"], v) for r in agent["rules"] for v in r["verbs"] if v not in ("get", "list", "watch")]
    check(sorted(writes) == [(["bgppeers/status"], "patch"), (["events"], "create"), (["events"], "patch"),
                             (["services"], "patch")],
          f"agent writes only Service patches, Events and BGPPeer status cluster-wide: {writes}")
    role = find(objs, "Role", "herald-agent")
    role_writes = sorted((tuple(r["resources"]), v) for r in role["rules"] for v in r["verbs"]
                         if v not in ("list", "watch"))
    check(role_writes == [(("leases",), "create"), (("leases",), "delete"), (("leases",), "patch")],
          f"agent writes in herald-system only its node Leases: {role_writes}")
    secrets = [r for r in role["rules"] if "secrets" in r["resources"]]
    check(len(secrets) == 1 and sorted(secrets[0]["verbs"]) == ["list", "watch"],
          f"agent reads Secrets, writes none: {secrets}")
    check(find(objs, "Role", "herald-agent")["metadata"]["namespace"] == "herald-system", "agent Role in herald-system")


def container_of(workload):
    spec = workload["spec"]["template"]["spec"]
    return spec, spec["containers"][0]


def check_workloads(objs):
    dep = find(objs, "Deployment", "herald-allocator")
    pod, c = container_of(dep)
    sc = c["securityContext"]
    check(dep["spec"]["replicas"] == 2, "allocator: two replicas")
    check(pod["securityContext"].get("runAsNonRoot") is True and pod["securityContext"].get("runAsUser", 0) != 0,
          f"allocator: non-root: {pod['securityContext']}")
    check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
          and sc.get("capabilities") == {"drop": ["ALL"]}, f"allocator: locked down: {sc}")
    check(c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz",
          "allocator: probes")
    check("requests" in c.get("resources", {}) and "limits" in c["resources"], "allocator: resources")
    check(pod["serviceAccountName"] == "herald-allocator", "allocator: its own service account")

    ds = find(objs, "DaemonSet", "herald-agent")
    pod, c = container_of(ds)
    sc = c["securityContext"]
    check(pod.get("hostNetwork") is True, "agent: hostNetwork")
    check(sc.get("privileged") is not True and sc["capabilities"]["drop"] == ["ALL"]
          and set(sc["capabilities"]["add"]) <= {"NET_ADMIN", "NET_RAW", "NET_BIND_SERVICE"}
          and {"NET_ADMIN", "NET_RAW"} <= set(sc["capabilities"]["add"]), f"agent: network capabilities only: {sc}")
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c["env"]}
    check(env.get("NODE_NAME") == "spec.nodeName" and env.get("POD_NAMESPACE") == "metadata.namespace",
          f"agent: NODE_NAME and POD_NAMESPACE from the downward API: {env}")
    # The bgp port is only real with a listener (--bgp-listen; without it the
    # agent only connects out and passive BGPPeers never come up), and a
    # port below 1024 needs NET_BIND_SERVICE.
    flag = {a.split("=")[0]: a.split("=", 1)[1] for a in c["args"] if "=" in a}
    bgp_ports = [p["containerPort"] for p in c.get("ports", []) if p.get("name") == "bgp"]
    listen_port = int(flag.get("--bgp-port", "179"))
    check(bgp_ports == [listen_port] and "--bgp-listen" in flag
          and (listen_port >= 1024 or "NET_BIND_SERVICE" in sc["capabilities"]["add"]),
          f"agent: listens for BGP on the declared port {bgp_ports}: --bgp-listen {flag.get('--bgp-listen')}, "
          f"--bgp-port {listen_port}, capabilities {sc['capabilities']['add']}")
    drain = int(flag.get("--drain", "10"))
    check(pod["terminationGracePeriodSeconds"] > drain,
          f"agent: grace period {pod['terminationGracePeriodSeconds']} s above drain {drain} s")
    check(c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz",
          "agent: probes")
    check({"operator": "Exists"} in pod.get("tolerations", []), "agent: tolerates every taint")
    check(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == 1, "agent: one node at a time")
    check(pod["serviceAccountName"] == "herald-agent", "agent: its own service account")
    for o in (dep, ds):
        image = container_of(o)[1]["image"]
        check(re.match(r"^[^:]+(:[\w.-]+)?$", image) is not None and image.split(":")[0] != "herald",
              f"{o['kind']}: image set by kustomize: {image}")


def check_flags(objs):
    """The workloads' flags against the binaries' --help, where they are built."""
    for kind, name, binary in (("Deployment", "herald-allocator", "allocator/herald-allocator"),
                               ("DaemonSet", "herald-agent", "agent/herald-agent")):
        path = os.path.join(BUILD, binary) if BUILD else ""
        if not check(os.access(path, os.X_OK), f"{binary} is built (meson builds it for this test)"):
            continue
        flags = [a.split("=")[0] for a in container_of(find(objs, kind, name))[1]["args"] if a.startswith("--")]
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "POD_NAMESPACE", "NODE_NAME")}
        r = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10, env=env)
        usage = r.stdout + r.stderr
        unknown = [f for f in flags if f not in usage]
        check(flags and not unknown, f"{kind} {name}: flags {flags} known to {binary} --help; unknown: {unknown}")


def main():
    if not os.path.exists(emu_lib.KUBECTL):
        return skip("apply_test", f"{emu_lib.KUBECTL} is missing: it renders the kustomization and applies it "
                    "(install kubectl to run this test)")
    if not os.path.exists(EMULATOR):
        print("emulator binary missing:", EMULATOR)
        return 1

    r = subprocess.run([emu_lib.KUBECTL, "kustomize", MANIFESTS], capture_output=True, text=True, timeout=60)
    if not check(r.returncode == 0, "kubectl kustomize renders: " + r.stderr):
        return 1
    objs = [o for o in yaml.safe_load_all(r.stdout) if o]
    kinds = sorted(o["kind"] for o in objs)
    check(kinds.count("CustomResourceDefinition") == 3 and "Deployment" in kinds and "DaemonSet" in kinds
          and "Namespace" in kinds, f"rendered objects: {kinds}")
    check(all(o["metadata"].get("namespace") == "herald-system" for o in objs
              if o["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding")),
          "every namespaced object in herald-system")
    check_rbac(objs)
    check_workloads(objs)
    check_flags(objs)

    # The emulator wants at least one CRD file: an unrelated one, so that
    # Herald's come only from the apply.
    other_crd_dir = tempfile.mkdtemp(prefix="herald-manifests-crds-")
    with open(os.path.join(other_crd_dir, "widgets.example.test.yaml"), "w") as f:
        f.write(UNRELATED_CRD)
    emu_lib.EMULATOR, emu_lib.CRD_DIR = EMULATOR, other_crd_dir
    emu = emu_lib.Emulator()
    cache = tempfile.mkdtemp(prefix="herald-manifests-kubectl-")
    try:
        rendered = os.path.join(cache, "herald.yaml")
        with open(rendered, "w") as f:
            f.write(r.stdout)
        rc, out, err = emu_lib.kubectl(emu, cache, "apply", "-f", rendered)
        created = [ln for ln in out.splitlines() if ln.endswith(" created")]
        check(rc == 0 and len(created) == len(objs), f"apply -f: {len(created)} of {len(objs)} created: {out}{err}")
        for o in objs:
            args = ["get", o["kind"].lower() + "." + (o["apiVersion"].split("/")[0] if "/" in o["apiVersion"] else ""),
                    o["metadata"]["name"], "-o", "json"]
            args[1] = args[1].rstrip(".")
            if "namespace" in o["metadata"]:
                args += ["-n", o["metadata"]["namespace"]]
            rc, out, err = emu_lib.kubectl(emu, cache, *args)
            check(rc == 0 and json.loads(out)["metadata"]["name"] == o["metadata"]["name"],
                  f"get {o['kind']}/{o['metadata']['name']}: {err}")
        # Applying again changes nothing.
        rc, out, err = emu_lib.kubectl(emu, cache, "apply", "-f", rendered)
        check(rc == 0 and "created" not in out, f"apply again is a no-op: {out}{err}")

        examples = os.path.join(MANIFESTS, "examples")
        rc, out, err = emu_lib.kubectl(emu, cache, "apply", "-k", examples)
        created = [ln for ln in out.splitlines() if ln.endswith(" created")]
        check(rc == 0 and len(created) >= 10, f"apply -k examples: {len(created)} created: {out}{err}")
        rc, out, err = emu_lib.kubectl(emu, cache, "get", "herald", "-n", "herald-system")
        check(rc == 0 and "servicegroup.herald.dev/dual-stack" in out and "bgppeer.herald.dev/router-v4" in out
              and "lbnodeagent.herald.dev/default" in out, f"get herald (category): {out}{err}")
        rc, out, err = emu_lib.kubectl(emu, cache, "get", "bgpp", "router-v4", "-n", "herald-system", "-o", "json")
        spec = json.loads(out)["spec"] if rc == 0 else {}
        check(spec.get("peerPort") == 179 and spec.get("connectRetryTime") == "30s",
              f"schema defaults applied to the BGPPeer: {spec}")
        rc, out, err = emu_lib.kubectl(emu, cache, "get", "svc", "-n", "default", "-o", "name")
        check(rc == 0 and len(out.split()) >= 6, f"example Services exist: {out}{err}")

        invalid_dir = os.path.join(examples, "invalid")
        refused = 0
        for name in sorted(os.listdir(invalid_dir)):
            if not name.endswith(".yaml"):
                continue
            with open(os.path.join(invalid_dir, name)) as f:
                marks = f.readline().split()
            rc, out, err = emu_lib.kubectl(emu, cache, "apply", "-f", os.path.join(invalid_dir, name))
            if "emulator" in marks:
                refused += 1
                check(rc != 0 and "invalid" in err.lower(), f"invalid/{name} refused by the emulator: {out}{err}")
            else:
                print(f"note: invalid/{name}: {'refused' if rc else 'accepted'} by the emulator "
                      "(patterns and CEL are not evaluated there; schema_check.py covers it)")
        check(refused >= 5, f"{refused} invalid examples checked against the emulator")
    finally:
        emu.stop()
        for d in (cache, other_crd_dir):
            shutil.rmtree(d, ignore_errors=True)
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
