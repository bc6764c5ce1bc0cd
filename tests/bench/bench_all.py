#!/usr/bin/env python3
# The `bench` command of issue 11 (scripts/bench.sh --short|--full runs this):
# every benchmark in sequence (never in parallel: they would measure each
# other) — the micro-benchmarks of the build directory, convergence and
# withdraw (tests/e2e/bench_convergence.py), the node's part of convergence
# beside the PureLB-style pipeline (tests/e2e/bench_node_part.py), node failover with BFD and with
# the hold timer alone (tests/e2e/bench_node_failover.py), the rolling
# restart under requests (when its script exists), scale
# (tests/e2e/bench_scale.py) and the speaker throughput table
# (tests/interop/bench_speakers.py) — then rewrites each one's generated
# section of BENCHMARKS.md: the text between
#   <!-- bench:NAME begin ... -->  and  <!-- bench:NAME end -->
# (a missing section is appended at the end of the file). Each section says
# the command, the date, the machine, the load average and the build used.
#
#   python3 tests/bench/bench_all.py [--short|--full] [--only NAME,...] [--no-write]
#
# --short (default) is sized to finish within ten minutes on the 2-core
# machine; --full runs the sizes BENCHMARKS.md's hand-written sections
# discuss. Binaries come from HERALD_BUILD_DIR (else build-bench, build,
# build-dev in the checkout); herald-speaker from HERALD_SPEAKER_BIN (a
# release build for figures worth keeping) or the same build directory.
# Exit: 0 when every benchmark ran, 1 when one failed (its section says so),
# 77 when not root.
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
E2E = os.path.join(ROOT, "tests", "e2e")
INTEROP = os.path.join(ROOT, "tests", "interop")
BENCHMARKS_MD = os.path.join(ROOT, "BENCHMARKS.md")
# Benchmark 4 of issue 11 (an e2e scenario that prints `rolling-restart:
# key=value ...` lines), written separately: run when present.
ROLLING_RESTART = os.path.join(E2E, "rolling.py")


def plan(mode):
    """[(section name, title, [(argv, env)])] for mode short or full. argv
    starting with "@" names a micro-benchmark executable of the build dir."""
    short = mode == "short"
    micro = [["@bench-bgp-codec", "1000000", "3" if short else "9"],
             ["@bench-speaker-table", "20000" if short else "100000", "3"],
             ["@bench-allocator", "50000", "3" if short else "9"],
             ["@bench-agent-plan", "50", "3", "5"], ["@bench-agent-plan", "1000", "100", "3" if short else "9"],
             ["@bench-agent-event", "5000", "30" if short else "60"]]
    micro += ([["@bench-kube-informer", "10000", "10000", "2"]] if short else
              [["@bench-agent-plan", "10000", "100", "5"], ["@bench-agent-event", "5000", "60", "10000", "local"],
               ["@bench-kube-informer", "50000", "10000", "5"],
               ["@bench-netlink"]])
    py = sys.executable
    routers = ["bird"] if short else ["bird", "frr"]
    conv = [[py, f"{E2E}/bench_convergence.py", r, "50"] for r in ["bird", "frr"]]
    conv += [[py, f"{E2E}/bench_node_part.py", r, "50"] for r in routers]
    failover = [[py, f"{E2E}/bench_node_failover.py", r] + (["5", "bfd-100x3", "hold-3s"] if short else
                                                             ["10", "bfd-100x3", "bfd-300x3", "hold-3s"])
                for r in ["bird", "frr"]]
    scale = ([[py, f"{E2E}/bench_scale.py", r, "1000", "dual", "15", "5"] for r in ["bird", "frr"]] if short else
             [[py, f"{E2E}/bench_scale.py", r, "10000", fam, "30", "10"] for r in ["bird", "frr"]
              for fam in ("dual", "ipv6")])
    speakers = [[py, f"{INTEROP}/bench_speakers.py"] + (["--case", "v6-100k"] if short else [])]
    rolling = [[py, ROLLING_RESTART, "bird", "Cluster"]] if short else [[py, ROLLING_RESTART, r] for r in routers]
    return [
        ("micro", "Micro-benchmarks (`ninja -C BUILD bench` runs them with their default sizes)", micro),
        ("convergence", "Convergence and withdraw (benchmarks 1 and 2)", conv),
        ("failover", "Failover: node cut → next hop gone (benchmark 3)", failover),
        ("rolling-restart", "Rolling restart under requests (benchmark 4)", rolling),
        ("scale", "Scale (benchmark 5)", scale),
        ("speakers", "Speaker throughput (benchmark 6)", speakers),
    ]


def build_dir():
    for d in [os.environ.get("HERALD_BUILD_DIR")] + [os.path.join(ROOT, b) for b in ("build-bench", "build", "build-dev")]:
        if d and os.path.isdir(os.path.join(d, "tests")):
            return os.path.abspath(d)
    return None


def buildtype(d):
    try:
        with open(os.path.join(d, "meson-info", "intro-buildoptions.json")) as f:
            return next(o["value"] for o in json.load(f) if o["name"] == "buildtype")
    except (OSError, ValueError, StopIteration):
        return "unknown"


def machine():
    with open("/proc/meminfo") as f:
        mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)) / 2**20
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, kernel {platform.release()}"


def git_rev():
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def shown(argv):
    """The command as a reader would type it from the checkout."""
    words = [("python3" if a == sys.executable else os.path.relpath(a, ROOT) if a.startswith(ROOT) else a)
             for a in argv]
    return " ".join(words)


def run_one(argv, bdir, env):
    """Runs one benchmark; (exit code, stdout, seconds, load before, load after)."""
    if argv[0].startswith("@"):
        exe = os.path.join(bdir or "", "tests", argv[0][1:])
        if not bdir or not os.access(exe, os.X_OK):
            return 77, f"SKIP: {argv[0][1:]} not built in {bdir}\n", 0.0, 0.0, 0.0
        argv = [exe] + argv[1:]
    if not os.path.exists(argv[1] if argv[0] == sys.executable else argv[0]):
        # plan() names every script; one missing is a bug here, not a skip.
        return 1, f"FAIL: {shown(argv[1:2])} does not exist\n", 0.0, 0.0, 0.0
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    print(f"== {shown(argv)}", flush=True)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    out = []
    for line in p.stdout:
        sys.stdout.write(line)
        out.append(line)
    p.wait()
    return p.returncode, "".join(out), time.monotonic() - t0, load0, os.getloadavg()[0]


def key_value_tables(lines):
    """Lines `name: k1=v1 k2=v2 ...` (e.g. rolling.py's `rolling-restart:`)
    turned into a markdown table, one row per line; other lines kept."""
    out, keys = [], None
    for ln in lines:
        m = re.fullmatch(r"([\w-]+): ((?:[\w-]+=\S+\s*)+)", ln.strip())
        if not m:
            out.append(ln)
            keys = None
            continue
        pairs = [kv.split("=", 1) for kv in m.group(2).split()]
        if keys != [k for k, _ in pairs]:
            keys = [k for k, _ in pairs]
            out += [f"| {m.group(1)} | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
        out.append("| | " + " | ".join(v for _, v in pairs) + " |")
    return out


def render(argv, code, out, seconds, load0, load1):
    """The markdown of one benchmark's run: its tables as printed, or its
    plain output in a code block; a failure or skip says so."""
    cmd = shown(argv) if not argv[0].startswith("@") else " ".join([f"BUILD/tests/{argv[0][1:]}"] + argv[1:])
    kept = [ln for ln in out.splitlines() if not ln.startswith(("PASS after", "command: "))]
    if code == 77:
        return [f"`sudo {cmd}`: not run ({' '.join(kept[-1:])})", ""]
    loaded = " (**under load**: other work shared the 2 cores)" if max(load0, load1) > 1.5 else ""
    lines = [f"`sudo {cmd}` — {seconds:.0f} s, load average {load0:.1f} → {load1:.1f}{loaded}", ""]
    if code != 0:
        lines += [f"**Failed (exit {code})**; last lines:", "", "```"] + kept[-15:] + ["```", ""]
        return lines
    kept = key_value_tables(kept)
    if any(ln.startswith("|") for ln in kept):
        body = []
        for ln in kept:
            if body and body[-1].startswith("|") != ln.startswith("|"):
                body.append("")
            body.append(ln)
        lines += body + [""]
    else:
        lines += ["```"] + [ln for ln in kept if ln.strip()] + ["```", ""]
    return lines


def write_section(text, name, title, body):
    begin = f"<!-- bench:{name} begin (generated by scripts/bench.sh; edits are overwritten) -->"
    end = f"<!-- bench:{name} end -->"
    block = "\n".join([begin] + body + [end])
    m = re.search(rf"<!-- bench:{re.escape(name)} begin[^\n]*-->.*?<!-- bench:{re.escape(name)} end -->",
                  text, re.S)
    if m:
        return text[:m.start()] + block + text[m.end():]
    return text.rstrip("\n") + f"\n\n### {title}\n\n{block}\n"


def self_test():
    """Checks the rewriting without running anything (meson test
    bench-all-self-test): a section replaced in place, a missing one
    appended, key=value lines tabled, a failure and a skip reported."""
    text = "# B\n\n<!-- bench:a begin (x) -->\nold\n<!-- bench:a end -->\n\ntail\n"
    text = write_section(text, "a", "A", ["new"])
    text = write_section(text, "b", "B title", ["fresh"])
    problems = []
    if "old" in text or "new" not in text or not text.index("new") < text.index("tail") < text.index("### B title"):
        problems.append(f"write_section: {text!r}")
    if write_section(text, "a", "A", ["newer"]).count("<!-- bench:a begin") != 1:
        problems.append("write_section duplicated a section")
    table = key_value_tables(["rolling-restart: router=bird requests=10 failed=0",
                              "rolling-restart: router=frr requests=12 failed=1"])
    if table != ["| rolling-restart | router | requests | failed |", "|---|---:|---:|---:|",
                 "| | bird | 10 | 0 |", "| | frr | 12 | 1 |"]:
        problems.append(f"key_value_tables: {table}")
    failed = render([sys.executable, f"{E2E}/x.py", "bird"], 1, "a\nboom\n", 1.0, 0.1, 0.2)
    if not any("Failed (exit 1)" in ln for ln in failed) or "boom" not in failed:
        problems.append(f"render of a failure: {failed}")
    missing = run_one([sys.executable, f"{E2E}/no-such-bench.py"], None, {})
    if missing[0] != 1:
        problems.append(f"a missing benchmark script is a failure, not a skip: {missing}")
    skipped = render(["@bench-x"], 77, "SKIP: not built\n", 0, 0, 0)
    if "not run (SKIP: not built)" not in skipped[0]:
        problems.append(f"render of a skip: {skipped}")
    for p in problems:
        print(f"FAIL: {p}")
    print("self-test:", "FAIL" if problems else "ok")
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description="Runs every benchmark and rewrites BENCHMARKS.md's generated sections")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--short", dest="mode", action="store_const", const="short")
    g.add_argument("--full", dest="mode", action="store_const", const="full")
    ap.add_argument("--only", help="comma-separated section names: " + ", ".join(s[0] for s in plan("short")))
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    ap.add_argument("--self-test", action="store_true", help="check the table rewriting only (no root)")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    mode = args.mode or "short"
    ci = os.environ.get("CI") == "true"  # a skip is a failure there, as for the test suites
    if os.geteuid() != 0:
        print("SKIP: the benchmarks need root (network namespaces); run: sudo scripts/bench.sh", flush=True)
        return 1 if ci else 77
    sections = plan(mode)
    only = set(args.only.split(",")) if args.only else {s[0] for s in sections}
    unknown = only - {s[0] for s in sections}
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")
    bdir = build_dir()
    env = dict(os.environ)
    if bdir:
        env.setdefault("HERALD_BUILD_DIR", bdir)
    speaker = env.get("HERALD_SPEAKER_BIN") or (bdir and os.path.join(bdir, "proto", "herald-speaker"))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"Generated {stamp} by `sudo scripts/bench.sh --{mode}` at {git_rev()}; machine: {machine()}; "
              f"build: {bdir and os.path.relpath(bdir, ROOT)} ({bdir and buildtype(bdir)}); "
              f"herald-speaker: {speaker and os.path.relpath(speaker, ROOT)} "
              f"({speaker and buildtype(os.path.dirname(os.path.dirname(speaker)))}).")
    failed, skipped = [], []
    t_all = time.monotonic()
    results = {}
    for name, title, cmds in sections:
        if name not in only:
            continue
        body = [header, ""]
        for argv in cmds:
            code, out, secs, l0, l1 = run_one(argv, bdir, env)
            if code == 77:
                skipped.append(f"{shown(argv)}: {out.strip().splitlines()[-1] if out.strip() else 'skipped'}")
            elif code != 0:
                failed.append(shown(argv))
            body += render(argv, code, out, secs, l0, l1)
        results[name] = (title, body)
    total = time.monotonic() - t_all
    print(f"\nbench --{mode}: {len(results)} sections in {total:.0f} s; failed: {failed or 'none'}", flush=True)
    for why in skipped:
        print(f"skipped (says why): {why}", flush=True)
    if not args.no_write:
        with open(BENCHMARKS_MD) as f:
            text = f.read()
        for name, (title, body) in results.items():
            text = write_section(text, name, title, body)
        with open(BENCHMARKS_MD, "w") as f:
            f.write(text)
        print(f"rewrote {len(results)} generated sections of {os.path.relpath(BENCHMARKS_MD, ROOT)}")
    return 1 if failed or (ci and skipped) else 0


if __name__ == "__main__":
    sys.exit(main())
