# Lab library for the interop suite: network namespaces, veth links, bridges,
# documentation addresses (RFC 5737, RFC 3849), processes started by pid inside
# namespaces with their output captured, and poll-with-deadline helpers.
#
# Everything a Lab creates is torn down when it closes: on normal exit, on an
# exception, on SIGINT/SIGTERM/SIGHUP (turned into SystemExit so `finally` and
# `with` blocks run) and at interpreter exit (atexit). Only processes the lab
# started (by pid) and anything left inside its own namespaces are killed.
# HIO_KEEP=1 keeps the lab (namespaces, processes, scratch directory) for
# debugging and prints how to remove it afterwards (docs/interop.md).
import atexit
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PREFIX = "hio-"
_open_labs = []


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Timeout(AssertionError):
    """A poll ran past its deadline; the message says what was awaited."""


def poll(what, fn, timeout=20.0, interval=0.1):
    """Calls fn until it returns a truthy value (returned) or timeout passes."""
    end = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except (subprocess.CalledProcessError, ValueError, KeyError, OSError) as e:
            last_exc = e
        if time.monotonic() >= end:
            extra = f" (last error: {last_exc})" if last_exc else ""
            raise Timeout(f"timeout after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)


def holds_for(what, fn, duration, interval=0.2):
    """Asserts fn() stays truthy for `duration` seconds (a bounded 'never')."""
    end = time.monotonic() + duration
    while time.monotonic() < end:
        if not fn():
            raise AssertionError(f"{what} stopped holding")
        time.sleep(interval)


def run(*args, check=True, ns=None, timeout=30, input=None):
    """Runs a short command (optionally in namespace ns); returns stdout."""
    cmd = list(args)
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise subprocess.CalledProcessError(r.returncode, cmd, r.stdout, r.stderr)
    return r.stdout


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def _close_all():
    for lab in list(_open_labs):
        lab.close()


atexit.register(_close_all)
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


class Proc:
    """A process the lab started; pid is the daemon itself (ip netns exec and
    unshare exec, they do not fork)."""

    def __init__(self, lab, name, popen, logfile):
        self.lab, self.name, self.popen, self.logfile = lab, name, popen, logfile

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def send(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=5.0, repeat=False):
        """Sends sig, waits up to timeout, then SIGKILL. Returns the exit code.
        repeat: send sig again every few milliseconds until the process ends,
        as an impatient operator or supervisor might; Herald's daemons must
        still exit 0 (common/herald/exit_signals.hpp)."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGCONT)  # a stopped process cannot exit
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while repeat and self.popen.poll() is None and time.monotonic() < deadline:
                time.sleep(0.003)
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    break
            try:
                self.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if self in self.lab.procs:
            self.lab.procs.remove(self)
        return self.popen.returncode

    def output(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Lab:
    """Namespaces, links and processes of one test, removed by close()."""

    def __init__(self, tag="lab"):
        self.id = secrets.token_hex(3)
        self.tag = tag
        self.namespaces = []
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix=f"{PREFIX}{self.id}-{tag}-")
        os.chmod(self.dir, 0o755)  # FRR daemons drop to user frr
        self.keep = os.environ.get("HIO_KEEP") == "1"
        self.closed = False
        _open_labs.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- namespaces and links -------------------------------------------
    def netns(self, short):
        """Creates namespace hio-<id>-<short>: lo up, no DAD, forwarding on."""
        name = f"{PREFIX}{self.id}-{short}"
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        run("sysctl", "-qw",
            "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.all.router_solicitations=0",
            "net.ipv6.conf.default.router_solicitations=0",
            "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
            # ECMP: hash on ports so that several flows spread over next hops.
            "net.ipv4.fib_multipath_hash_policy=1",
            "net.ipv6.fib_multipath_hash_policy=1", ns=name)
        return name

    def veth(self, ns_a, if_a, ns_b, if_b):
        run("ip", "-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b,
            "netns", ns_b)
        run("ip", "-n", ns_a, "link", "set", if_a, "up")
        run("ip", "-n", ns_b, "link", "set", if_b, "up")

    def bridge(self, ns, name):
        run("ip", "-n", ns, "link", "add", name, "type", "bridge")
        run("ip", "-n", ns, "link", "set", name, "up")

    def enslave(self, ns, ifname, bridge):
        run("ip", "-n", ns, "link", "set", ifname, "master", bridge)

    def addr(self, ns, ifname, cidr):
        _check_doc(cidr)
        extra = ["nodad"] if ":" in cidr else []
        run("ip", "-n", ns, "addr", "add", cidr, "dev", ifname, *extra)

    def route(self, ns, dest, via):
        fam = "-6" if ":" in via else "-4"
        run("ip", "-n", ns, fam, "route", "replace", dest, "via", via)

    def wait_reachable(self, ns, address, timeout=10):
        fam = "-6" if ":" in address else "-4"
        poll(f"{address} reachable from {ns}",
             lambda: subprocess.run(["ip", "netns", "exec", ns, "ping", fam, "-c1", "-W1", address],
                                    capture_output=True).returncode == 0, timeout)

    # --- processes --------------------------------------------------------
    def path(self, *parts):
        p = os.path.join(self.dir, *parts)
        return p

    def start(self, name, ns, argv, hostname=None, env=None):
        """Starts argv in ns (with its own UTS namespace and host name if
        given), output to <dir>/<name>.out. Returns the Proc."""
        logfile = self.path(f"{name}.out")
        cmd = list(argv)
        if hostname:
            cmd = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname] + cmd
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        out = open(logfile, "ab")
        popen = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env)
        out.close()
        p = Proc(self, name, popen, logfile)
        self.procs.append(p)
        return p

    # --- teardown -----------------------------------------------------------
    def close(self):
        if self.closed:
            return
        self.closed = True
        if self in _open_labs:
            _open_labs.remove(self)
        if self.keep:
            log(f"HIO_KEEP=1: lab kept: namespaces {' '.join(self.namespaces)}; "
                f"pids {' '.join(str(p.pid) for p in self.procs if p.alive())}; "
                f"files {self.dir}. Remove with: python3 {os.path.abspath(__file__)} "
                f"cleanup {PREFIX}{self.id}")
            return
        for p in reversed(list(self.procs)):
            p.stop(timeout=3)
        for ns in self.namespaces:
            kill_namespace(ns)
        self.namespaces = []
        shutil.rmtree(self.dir, ignore_errors=True)


def kill_namespace(ns):
    """Kills whatever still runs inside ns (started by this lab) and deletes it."""
    pids = run("ip", "netns", "pids", ns, check=False).split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    for pid in pids:
        poll(f"pid {pid} gone", lambda: not os.path.exists(f"/proc/{pid}"), 5)
    run("ip", "netns", "del", ns, check=False)


_DOC_NETS = ("192.0.2.", "198.51.100.", "203.0.113.", "2001:db8:")


def _check_doc(cidr):
    if not cidr.lower().startswith(_DOC_NETS):
        raise ValueError(f"{cidr}: only documentation addresses in the lab")


def require_root_and_tools(tools):
    """Exit 77 (skip) when the lab cannot run here; 1 instead under CI=true."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root (network namespaces need it)")
    for t in tools:
        if not shutil.which(t) and not os.access(t, os.X_OK):
            problems.append(f"missing {t}")
    if problems:
        skip("; ".join(problems))


def run_checks(fn, *args):
    """Runs a test body; prints PASS or FAIL with the elapsed time and
    returns the exit code (0, or 1 on an AssertionError or Timeout)."""
    t0 = time.monotonic()
    try:
        fn(*args)
    except AssertionError as e:  # Timeout is an AssertionError
        print(f"FAIL after {time.monotonic() - t0:.1f}s:\n{e}", flush=True)
        return 1
    print(f"PASS after {time.monotonic() - t0:.1f}s", flush=True)
    return 0


def run_main(main):
    """Runs a suite script's main(): FAIL and exit 1 on an AssertionError
    (Timeout is one); skips exit inside main() already."""
    try:
        main()
    except AssertionError as e:
        log(f"FAIL: {e}")
        sys.exit(1)


def skip(reason):
    ci = os.environ.get("CI") == "true"
    print(f"{'FAIL (CI=true)' if ci else 'SKIP'}: {reason}", flush=True)
    sys.exit(1 if ci else 77)


if __name__ == "__main__":
    # `python3 lab.py cleanup hio-<id>`: removes a lab kept with HIO_KEEP=1.
    if len(sys.argv) == 3 and sys.argv[1] == "cleanup" and sys.argv[2].startswith(PREFIX):
        for ns in run("ip", "netns", "list").split("\n"):
            name = ns.split(" ")[0]
            if name.startswith(sys.argv[2] + "-"):
                kill_namespace(name)
                print(f"removed {name}")
        for d in os.listdir(tempfile.gettempdir()):
            if d.startswith(sys.argv[2] + "-"):
                shutil.rmtree(os.path.join(tempfile.gettempdir(), d), ignore_errors=True)
        sys.exit(0)
    print(f"usage: {sys.argv[0]} cleanup {PREFIX}<id>", file=sys.stderr)
    sys.exit(2)
