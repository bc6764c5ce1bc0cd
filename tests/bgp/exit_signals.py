#!/usr/bin/env python3
# herald-speaker (standalone) ends with exit 0 however often SIGTERM comes:
# the first starts the graceful shutdown, a second ends it at once, and any
# that arrive during teardown (after io.run() returned) are ignored
# (common/herald/exit_signals.hpp). Without that, a sanitizer build, whose
# teardown is slow, died by signal 15 every time under a burst of SIGTERMs.
# No root, no network: one passive peer that never connects and no listener.
# usage: exit_signals.py HERALD_SPEAKER [RUNS]
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

CONFIG = {"router_id": "192.0.2.11", "local_asn": 65001,
          "peers": [{"address": "192.0.2.1", "asn": 65000, "passive": True}]}


def run_once(binary, config_path, log_path):
    """Starts the speaker, waits until it has started, then sends SIGTERM every
    3 ms until it exits; returns (exit code, signals sent)."""
    with open(log_path, "w") as log:
        p = subprocess.Popen([binary, "--config", config_path, "--grpc", "off"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while "herald-speaker:" not in open(log_path, errors="replace").read():
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            p.wait()
            raise AssertionError(f"did not start (exit {p.returncode}):\n{open(log_path, errors='replace').read()}")
        time.sleep(0.02)
    sent = 0
    deadline = time.monotonic() + 20
    while p.poll() is None and time.monotonic() < deadline:
        p.send_signal(signal.SIGTERM)
        sent += 1
        time.sleep(0.003)
    if p.poll() is None:
        p.kill()
        p.wait()
        raise AssertionError(f"still running 20 s after the first SIGTERM ({sent} sent)")
    return p.returncode, sent


def main():
    if len(sys.argv) < 2:
        print(__doc__ or "usage: exit_signals.py HERALD_SPEAKER [RUNS]")
        return 2
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    assert runs > 0, "no runs"
    with tempfile.TemporaryDirectory(prefix="herald-exit-signals-") as d:
        config_path = os.path.join(d, "speaker.json")
        with open(config_path, "w") as f:
            json.dump(CONFIG, f)
        bad = []
        for i in range(runs):
            log_path = os.path.join(d, f"run-{i}.log")
            rc, sent = run_once(binary, config_path, log_path)
            print(f"run {i}: exit {rc} after {sent} SIGTERMs", flush=True)
            if rc != 0:
                bad.append((i, rc, open(log_path, errors="replace").read()[-2000:]))
    for i, rc, tail in bad:
        print(f"--- run {i} ended with {rc} (negative: killed by that signal); its log:\n{tail}")
    print(f"{runs - len(bad)} of {runs} runs exited 0")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
