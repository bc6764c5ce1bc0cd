"""Small helpers shared by the manifests tests: named checks that collect
failures, the verdict, and the skip rule (exit 77; under CI=true a skip is a
failure, HELPERS.md)."""
import os

failures = []


def check(cond, what):
    """Records what failed; prints one line either way (the first line of what)."""
    first = what.splitlines()[0] if what else what
    print(("ok: " + first[:110]) if cond else ("FAIL: " + what), flush=True)
    if not cond:
        failures.append(what)
    return cond


def verdict():
    """The exit status after all checks ran."""
    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("all checks passed")
    return 0


def skip(test, why):
    ci = os.environ.get("CI") == "true"
    print(f"{test}: {'FAIL (CI=true)' if ci else 'SKIP'}: {why}")
    return 1 if ci else 77
