#!/usr/bin/env python3
"""Checks manifests/crds/servicegroups.herald.dev.yaml: a structural
apiextensions.k8s.io/v1 CRD (every schema node typed), group herald.dev,
version v1 with the status subresource and printer columns, and the example
ServiceGroups in tests/data/allocator/servicegroups.json valid against its
OpenAPI v3 schema (the allocator's unit tests parse the same examples).
Usage: crd_check.py CRD.yaml EXAMPLES.json"""
import json
import os
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:  # scripts/setup.sh installs python3-jsonschema and python3-yaml
    # Skip (77) on a developer machine without them; under CI=true a skip is a failure.
    ci = os.environ.get("CI") == "true"
    print(f"crd_check: {'FAIL (CI=true)' if ci else 'SKIP'}: the python module {e.name} is not "
          f"installed (apt install python3-{e.name}; scripts/setup.sh does)")
    sys.exit(1 if ci else 77)


def untyped_nodes(node, path):
    """Paths of schema nodes without a type (not structural)."""
    bad = []
    if not isinstance(node, dict):
        return bad
    if "type" not in node and not node.get("x-kubernetes-int-or-string") \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        bad.append(path or "/")
    for name, child in node.get("properties", {}).items():
        bad += untyped_nodes(child, path + "." + name)
    if "items" in node:
        bad += untyped_nodes(node["items"], path + "[]")
    return bad


def main():
    crd_path, examples_path = sys.argv[1], sys.argv[2]
    with open(crd_path) as f:
        crd = yaml.safe_load(f)
    problems = []
    if crd.get("apiVersion") != "apiextensions.k8s.io/v1":
        problems.append("apiVersion is not apiextensions.k8s.io/v1")
    spec = crd["spec"]
    if spec["group"] != "herald.dev" or crd["metadata"]["name"] != "servicegroups.herald.dev":
        problems.append("group / name is not servicegroups.herald.dev")
    versions = [v for v in spec["versions"] if v["name"] == "v1"]
    if len(versions) != 1 or not versions[0]["served"] or not versions[0]["storage"]:
        problems.append("v1 must be the one served storage version")
        print("\n".join(problems))
        return 1
    v1 = versions[0]
    if v1.get("subresources", {}).get("status") != {}:
        problems.append("no status subresource")
    columns = {c["name"]: c["jsonPath"] for c in v1.get("additionalPrinterColumns", [])}
    for name, path in {"V4 Size": ".status.v4Size", "V4 In Use": ".status.v4InUse",
                       "V6 Size": ".status.v6Size", "V6 In Use": ".status.v6InUse"}.items():
        if columns.get(name) != path:
            problems.append(f"printer column {name!r} should show {path}")
    if "Ready" not in columns:
        problems.append("no Ready printer column")
    schema = v1["schema"]["openAPIV3Schema"]
    problems += [f"schema node {p} has no type" for p in untyped_nodes(schema, "")]
    with open(examples_path) as f:
        examples = json.load(f)
    if not examples:
        problems.append("no examples to validate")
    for ex in examples:
        try:
            jsonschema.validate(ex, schema)
        except jsonschema.ValidationError as e:
            problems.append(f"example {ex['metadata']['name']}: {e.message}")
    # The schema must reject what the allocator rejects where a schema can.
    bad = {"apiVersion": "herald.dev/v1", "kind": "ServiceGroup", "metadata": {"name": "bad"},
           "spec": {"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28",
                                          "aggregation": "24"}}}}
    try:
        jsonschema.validate(bad, schema)
        problems.append("aggregation \"24\" (no slash) was accepted")
    except jsonschema.ValidationError:
        pass
    for p in problems:
        print("crd_check:", p)
    print(f"crd_check: {len(examples)} examples checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
