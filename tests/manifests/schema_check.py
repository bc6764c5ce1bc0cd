#!/usr/bin/env python3
"""Checks Herald's CRDs and examples without a cluster (suite 'manifests').

  schema_check.py MANIFESTS_DIR

- every CRD in MANIFESTS_DIR/crds is structural (every schema node typed),
  served and stored as herald.dev/v1, with the status subresource, the
  category "herald" and a short name;
- every custom resource in MANIFESTS_DIR/examples/*.yaml validates against
  its CRD's OpenAPI v3 schema (python3-jsonschema) and its CEL rules, and has
  no field the schema does not know (the API server would prune it: a typo
  would silently do nothing); Herald's Service annotations are spelled right;
- every file in MANIFESTS_DIR/examples/invalid/ is rejected, by what its
  "# rejects:" line names (schema and/or cel).

CEL (x-kubernetes-validations) is evaluated by the small evaluator below. It
knows the part of CEL the CRDs use: has(self.f), self.f.g, true, false, !,
&&, ||, ==, != and parentheses. A rule using anything else fails this check
(so a new rule cannot go unchecked): extend the evaluator with it.
Exit 77 (skip) when python3-yaml or python3-jsonschema is missing; under
CI=true that is a failure.
"""
import glob
import os
import re
import sys

# crd_check skips (77) or fails (CI=true) when python3-yaml or
# python3-jsonschema is missing, before anything else runs.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "allocator"))
from crd_check import untyped_nodes  # noqa: E402  (the structural check, shared)
import jsonschema  # noqa: E402
import yaml  # noqa: E402

# Annotations a user puts on a Service (docs/allocator.md); Herald writes the others.
USER_ANNOTATIONS = {"herald.dev/service-group", "herald.dev/addresses",
                    "herald.dev/allow-shared-ip", "herald.dev/allow-local"}


# ------------------------------------------------------------------ CEL subset

class CelError(Exception):
    pass


_TOKEN = re.compile(r"\s*(\|\||&&|==|!=|!|\(|\)|\.|[A-Za-z_][A-Za-z0-9_]*)")


def _tokens(rule):
    out, pos = [], 0
    rule = rule.strip()
    while pos < len(rule):
        m = _TOKEN.match(rule, pos)
        if not m:
            raise CelError(f"unsupported CEL at {rule[pos:]!r} in {rule!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


class _NoSuchKey(CelError):
    pass


def _logical(left, right, absorbing):
    """CEL's && (absorbing False) and || (absorbing True): commutative, an
    error on one side is absorbed when the other side decides the result."""
    def run():
        try:
            a = left()
        except _NoSuchKey:
            if bool(right()) == absorbing:
                return absorbing
            raise
        if bool(a) == absorbing:
            return absorbing
        return bool(right())
    return run


class _Parser:
    """Recursive descent over the subset into closures, evaluated lazily (CEL
    short-circuits: has(self.a) && self.a reads self.a only when it exists)."""

    def __init__(self, rule, self_value):
        self.toks, self.i, self.value = _tokens(rule), 0, self_value
        self.rule = rule

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected=None):
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise CelError(f"expected {expected or 'a token'} in {self.rule!r}")
        self.i += 1
        return tok

    def run(self):
        v = self.or_expr()
        if self.peek() is not None:
            raise CelError(f"unsupported CEL at {self.peek()!r} in {self.rule!r}")
        return v()

    def or_expr(self):
        v = self.and_expr()
        while self.peek() == "||":
            self.take()
            v = _logical(v, self.and_expr(), True)
        return v

    def and_expr(self):
        v = self.eq_expr()
        while self.peek() == "&&":
            self.take()
            v = _logical(v, self.eq_expr(), False)
        return v

    def eq_expr(self):
        v = self.unary()
        if self.peek() in ("==", "!="):
            op, w = self.take(), self.unary()
            return (lambda: v() == w()) if op == "==" else (lambda: v() != w())
        return v

    def unary(self):
        if self.peek() == "!":
            self.take()
            v = self.unary()
            return lambda: not v()
        return self.primary()

    def path(self):
        """self(.field)* → the field names."""
        self.take("self")
        names = []
        while self.peek() == ".":
            self.take()
            names.append(self.take())
        return names

    def lookup(self, names):
        value = self.value
        for name in names:
            if not isinstance(value, dict) or name not in value:
                raise _NoSuchKey(f"no such key: {name} in {self.rule!r}")
            value = value[name]
        return value

    def has(self, names):
        try:
            self.lookup(names)
            return True
        except _NoSuchKey:
            return False

    def primary(self):
        tok = self.peek()
        if tok == "(":
            self.take()
            v = self.or_expr()
            self.take(")")
            return v
        if tok in ("true", "false"):
            self.take()
            return lambda: tok == "true"
        if tok == "has":
            self.take()
            self.take("(")
            names = self.path()
            self.take(")")
            return lambda: self.has(names)
        if tok == "self":
            names = self.path()
            return lambda: self.lookup(names)
        raise CelError(f"unsupported CEL at {tok!r} in {self.rule!r}")


def cel_eval(rule, self_value):
    return _Parser(rule, self_value).run()


# ------------------------------------------------------------------ walking

def walk(schema, value, path, problems):
    """CEL rules and unknown fields, schema and value side by side."""
    for v in schema.get("x-kubernetes-validations", []):
        try:
            if not cel_eval(v["rule"], value):
                problems.append(f"{path or '.'}: CEL rule failed: {v.get('message', v['rule'])}")
        except CelError as e:
            problems.append(f"{path or '.'}: {e}")
    if isinstance(value, dict) and schema.get("type") == "object":
        props = schema.get("properties")
        for key, child in value.items():
            if props is not None and key in props:
                walk(props[key], child, f"{path}.{key}", problems)
            elif props is not None and "additionalProperties" not in schema \
                    and not schema.get("x-kubernetes-preserve-unknown-fields") and path:
                problems.append(f"{path}.{key}: unknown field (the API server would drop it)")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            walk(schema["items"], item, f"{path}[{i}]", problems)


def object_problems(obj, crds):
    """What the API server would refuse (or silently drop) in obj."""
    kind = obj.get("kind")
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    crd = crds.get((group, kind))
    if crd is None:
        return [f"no CRD for {group}/{kind}"]
    version_spec = next((v for v in crd["spec"]["versions"] if v["name"] == version), None)
    if version_spec is None:
        return [f"{kind} has no version {version}"]
    schema = version_spec["schema"]["openAPIV3Schema"]
    problems = [f"schema: {'.'.join(str(p) for p in e.absolute_path) or '.'}: {e.message}"
                for e in jsonschema.Draft7Validator(schema).iter_errors(obj)]
    cel = []
    walk(schema, obj, "", cel)
    return problems + ["cel: " + p if "CEL rule failed" in p else p for p in cel]


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def check_crds(manifests, problems):
    crds = {}
    files = sorted(glob.glob(os.path.join(manifests, "crds", "*.yaml")))
    if len(files) != 3:
        problems.append(f"expected 3 CRDs in crds/, found {len(files)}")
    for path in files:
        crd = load_all(path)[0]
        name = os.path.basename(path)
        spec = crd["spec"]
        if crd["metadata"]["name"] + ".yaml" != name or spec["group"] != "herald.dev":
            problems.append(f"{name}: name or group wrong")
        names = spec["names"]
        if "herald" not in names.get("categories", []) or not names.get("shortNames"):
            problems.append(f"{name}: needs the category herald and a short name")
        versions = [v for v in spec["versions"] if v["served"] and v["storage"]]
        if [v["name"] for v in versions] != ["v1"]:
            problems.append(f"{name}: v1 must be the one served storage version")
            continue
        v1 = versions[0]
        if v1.get("subresources", {}).get("status") != {}:
            problems.append(f"{name}: no status subresource")
        if not v1.get("additionalPrinterColumns"):
            problems.append(f"{name}: no printer columns")
        schema = v1["schema"]["openAPIV3Schema"]
        problems += [f"{name}: schema node {p} has no type" for p in untyped_nodes(schema, "")]
        jsonschema.Draft7Validator.check_schema(schema)
        crds[(spec["group"], names["kind"])] = crd
    return crds


def main():
    manifests = sys.argv[1]
    problems = []
    crds = check_crds(manifests, problems)

    valid = 0
    example_files = sorted(glob.glob(os.path.join(manifests, "examples", "*.yaml")))
    for path in example_files:
        for obj in load_all(path):
            name = f"{os.path.basename(path)}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            if obj.get("apiVersion", "").startswith("herald.dev/"):
                problems += [f"{name}: {p}" for p in object_problems(obj, crds)]
                valid += 1
            elif obj.get("kind") == "Service":
                for key in obj.get("metadata", {}).get("annotations", {}):
                    if key.startswith("herald.dev/") and key not in USER_ANNOTATIONS:
                        problems.append(f"{name}: unknown annotation {key}")
                valid += 1
    if valid < 10:
        problems.append(f"only {valid} example objects found (the examples are missing?)")

    invalid_files = sorted(glob.glob(os.path.join(manifests, "examples", "invalid", "*.yaml")))
    if len(invalid_files) < 10:
        problems.append(f"only {len(invalid_files)} invalid examples found")
    for path in invalid_files:
        name = os.path.basename(path)
        with open(path) as f:
            first = f.readline()
        m = re.match(r"# rejects: (.*)", first)
        if not m:
            problems.append(f"invalid/{name}: first line must be '# rejects: schema|cel [emulator]'")
            continue
        expected = set(m.group(1).split()) & {"schema", "cel"}
        got = set()
        for obj in load_all(path):
            for p in object_problems(obj, crds):
                got.add(p.split(":")[0])
                if p.split(":")[0] not in ("schema", "cel"):
                    problems.append(f"invalid/{name}: {p}")
        if not got:
            problems.append(f"invalid/{name}: accepted, but must be rejected by {' and '.join(sorted(expected))}")
        elif got != expected:
            problems.append(f"invalid/{name}: rejected by {sorted(got)}, expected {sorted(expected)}")
        else:
            print(f"schema_check: invalid/{name}: rejected by {' and '.join(sorted(got))}")

    for p in problems:
        print("schema_check: FAIL:", p)
    print(f"schema_check: {len(crds)} CRDs, {valid} example objects, {len(invalid_files)} invalid examples, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
