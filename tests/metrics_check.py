# promtool_check: the Prometheus text a Herald binary serves on /metrics must
# pass `promtool check metrics` (the prometheus package ships promtool). The
# python tests share it; tests/allocator/promtool.hpp is the C++ twin.
# Without promtool the check is skipped with a message saying why, and under
# CI=true it fails instead: CI must never pass without the check.
import os
import shutil
import subprocess


def promtool_check(text, what):
    """Raises AssertionError when promtool rejects `text` (what: whose
    metrics, for the message), or when promtool is missing under CI=true."""
    if not shutil.which("promtool"):
        msg = f"promtool is not installed (apt install prometheus): {what} /metrics not format-checked"
        if os.environ.get("CI") == "true":
            raise AssertionError(msg + " and CI=true")
        print(f"SKIP: {msg}", flush=True)
        return
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    if p.returncode != 0 or (p.stdout + p.stderr).strip():
        raise AssertionError(f"promtool check metrics ({what}): {p.stdout}{p.stderr}")
