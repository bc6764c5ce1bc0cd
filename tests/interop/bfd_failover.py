#!/usr/bin/env python3
# BFD failover with herald-speaker nodes (issue 10; RFC 5880 / 5881, RFC 9384):
# nodes behind a bridge announce one service /32 to a BIRD 2 or FRR 8
# router that installs it in its kernel FIB with one next hop per node
# (ECMP). Cutting a node's link (its bridge port, so the router keeps
# carrier) must remove that node's next hop from the router's FIB within
# detection time + 100 ms; Herald's own BFD must take the node's BGP session
# down with Cease / BFD Down and hold it (no reconnect) until BFD is Up again,
# after which the session and the next hop come back.
#
#   python3 bfd_failover.py ROUTER      ROUTER: bird frr (exit 0 pass, 1 fail, 77 skip)
#
# The check runs twice: IPv4 (BGP and BFD over 192.0.2.0/24, 198.51.100.10/32)
# and IPv6 (2001:db8::/64, 2001:db8:100::10/128).
#
# bench_failover.py uses FailoverLab for the failover benchmark. The time of
# a FIB change is taken from `ip monitor route` in the router's namespace
# (read as it happens, no polling forks in the measured path); each event
# naming the prefix is confirmed with `ip route show`.
import os
import queue
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import holds_for, log, poll  # noqa: E402
from peers import ROUTERS, Neighbor  # noqa: E402
from speakers import log_tail, make_speaker, require_speaker, speaker_kind  # noqa: E402

ROUTER_ASN, NODE_ASN = 65000, 65001
# family -> router address, prefix length of the shared link, node address pattern, service prefix
FAMILIES = {
    "v4": ("192.0.2.1", 24, "192.0.2.{}", "198.51.100.10/32"),
    "v6": ("2001:db8::1", 64, "2001:db8::{:x}", "2001:db8:100::10/128"),
}
TOOLS = {"bird": ["bird", "birdc"],
         "frr": ["/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd", "vtysh"]}

# name -> (BFD settings or None, hold time in seconds or None for the defaults)
MODES = {
    "bfd-100x3": ({"min_tx": 100, "min_rx": 100, "multiplier": 3}, None),
    "bfd-300x3": ({"min_tx": 300, "min_rx": 300, "multiplier": 3}, None),
    "hold-3s": (None, 3),
}


def detection_ms(mode):
    bfd, hold = MODES[mode]
    return bfd["min_tx"] * bfd["multiplier"] if bfd else hold * 1000


class RouteMonitor:
    """`ip -o monitor route` in a namespace, each line stamped on arrival."""

    def __init__(self, lab, ns):
        self.events = queue.Queue()
        self.proc = lab.start("ip-monitor", ns, ["stdbuf", "-oL", "ip", "-o", "monitor", "route"])
        # The lab's Proc writes to a file; follow it as it grows.
        self.path = self.proc.logfile
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self):
        with open(self.path, errors="replace") as f:
            while self.proc.alive():
                line = f.readline()
                if line:
                    self.events.put((time.monotonic(), line))
                else:
                    time.sleep(0.001)

    def drain(self):
        while not self.events.empty():
            self.events.get_nowait()


class FailoverLab:
    """Router namespace with bridge br0 (the family's router address);
    `nodes` namespaces hang off it, each with herald-speaker announcing the
    family's service prefix with next hop self."""

    def __init__(self, lab, router_kind, mode, nodes=2, family="v4"):
        self.lab, self.mode = lab, mode
        bfd, hold = MODES[mode]
        self.router_ip, plen, pattern, self.vip = FAMILIES[family]
        self.rns = lab.netns("r")
        lab.bridge(self.rns, "br0")
        lab.addr(self.rns, "br0", f"{self.router_ip}/{plen}")
        self.ips = [pattern.format(11 + i) for i in range(nodes)]
        self.nss = []
        for i, ip in enumerate(self.ips):
            ns = lab.netns(f"n{i}")
            lab.veth(self.rns, f"n{i}", ns, "eth0")
            lab.enslave(self.rns, f"n{i}", "br0")
            lab.addr(ns, "eth0", f"{ip}/{plen}")
            self.nss.append(ns)
        for ns in self.nss:
            lab.wait_reachable(ns, self.router_ip)
        self.monitor = RouteMonitor(lab, self.rns)
        nbs = [Neighbor(ip, NODE_ASN, hold_time=hold, bfd=bfd) for ip in self.ips]
        self.router = ROUTERS[router_kind](lab, self.rns, nbs, multipath=True, kernel=True)
        self.router.start()
        self.speakers = []
        for i, (ip, ns) in enumerate(zip(self.ips, self.nss)):
            peer = {"address": self.router_ip, "asn": ROUTER_ASN, "connect_retry": 1}
            if hold:
                peer.update(hold_time=hold, keepalive=max(1, hold // 3))
            if bfd:
                peer["bfd"] = dict(bfd)
            cfg = {"router_id": f"192.0.2.{11 + i}", "local_asn": NODE_ASN, "hostname": f"node-{i}",
                   "peers": [peer], "routes": [{"prefix": self.vip}]}
            sp = make_speaker(lab, ns, f"speaker{i}", cfg)
            sp.start()
            self.speakers.append(sp)

    def fib(self):
        return self.router.fib(self.vip)

    def wait_all(self, timeout=30):
        want = set(self.ips)
        poll(f"{self.vip} in the router's FIB via {sorted(want)}", lambda: self.fib() == want, timeout,
             interval=0.02)

    def settle(self, quiet=2.0, timeout=40):
        """Waits until every session is established and every next hop in
        the FIB for `quiet` seconds in a row. FRR's bgpd re-registers a
        peer's BFD session once the BGP session is up (bfdd starts a new
        session, whose first Down packets take ours Down), so the first
        session after a start flaps once against FRR (docs/bfd.md)."""
        end = time.monotonic() + timeout
        since = None
        while time.monotonic() < end:
            ok = self.fib() == set(self.ips) and all(sp.established(self.router_ip) for sp in self.speakers)
            now = time.monotonic()
            since = (since or now) if ok else None
            if since and now - since >= quiet:
                return
            time.sleep(0.1)
        raise L.Timeout(f"sessions and FIB not stable for {quiet}s within {timeout}s; FIB {self.fib()}")

    def cut(self, i):
        """Takes node i's bridge port down; returns the monotonic time just before."""
        t0 = time.monotonic()
        L.run("ip", "-n", self.rns, "link", "set", f"n{i}", "down")
        return t0

    def restore(self, i):
        L.run("ip", "-n", self.rns, "link", "set", f"n{i}", "up")

    def failover_ms(self, i, timeout=15.0):
        """Cuts node i and returns the milliseconds until its next hop left
        the router's FIB (the link stays cut)."""
        gone_ip = self.ips[i]
        addr = self.vip.split("/")[0]
        self.monitor.drain()
        t0 = self.cut(i)
        end = t0 + timeout
        while time.monotonic() < end:
            try:
                ts, line = self.monitor.events.get(timeout=0.05)
            except queue.Empty:
                ts, line = None, ""
            if ts is not None and addr not in line.split():
                continue
            # An event for the prefix (or a quiet 50 ms): confirm with the table.
            if gone_ip not in self.fib():
                return ((ts if ts is not None else time.monotonic()) - t0) * 1000.0
        raise L.Timeout(f"{gone_ip} still a next hop of {self.vip} {timeout:.0f}s after the cut")


def check_failover(router_kind):
    for family in FAMILIES:
        log(f"---- {family}")
        check_family(router_kind, family)


def check_family(router_kind, family):
    mode = "bfd-100x3"
    limit = detection_ms(mode) + 100
    with L.Lab(f"bfd-failover-{router_kind}") as lab:
        fl = FailoverLab(lab, router_kind, mode, family=family)
        router = fl.router_ip

        def status_bfd(sp):
            return sp.status().get(router, {}).get("bfd", {})

        try:
            fl.settle()
            node, sp = 0, fl.speakers[0]
            poll(f"{router_kind} BFD with {fl.ips[0]} up", lambda: fl.router.bfd_state(fl.ips[0]) == "up", 10)
            poll("herald BFD Up at 100 ms x 3",
                 lambda: status_bfd(sp).get("state") == "Up" and status_bfd(sp).get("detection_time_ms") == 300
                 and status_bfd(sp).get("tx_interval_ms") == 100, 10)
            log(f"ok   BFD Up on both sides; FIB {fl.vip} -> {sorted(fl.fib())}")

            flaps = sp.status()[router]["flaps"]
            took = fl.failover_ms(node)
            log(f"     cut node 0: next hop gone from the {router_kind} FIB after {took:.0f} ms "
                f"(limit {limit} ms)")
            _assert(took <= limit, f"failover took {took:.0f} ms, more than {limit} ms")
            _assert(fl.fib() == {fl.ips[1]}, f"FIB after the cut: {fl.fib()}")
            # Herald saw its BFD go Down and closed the session with Cease / BFD Down.
            poll("herald closed the session with Cease / BFD Down",
                 lambda: sp.status()[router]["flaps"] > flaps
                 and "BFD Down" in sp.status()[router]["last_error_sent"], 5)
            _assert("closing the BGP session until BFD is Up again" in sp.proc.output(),
                    "herald's log does not say BFD closed the session")
            log("ok   herald: BFD Down -> Cease / BFD Down (RFC 9384 subcode 10)")
            # Held: no reconnect while BFD is Down, although connect retry is 1 s.
            holds_for("herald holds BGP while BFD is Down",
                      lambda: sp.state(router) == "idle" and status_bfd(sp).get("bgp_held") is True, 3)
            log("ok   herald holds the session (idle, bgp_held) for 3 s with connect retry 1 s")

            t0 = time.monotonic()
            fl.restore(node)
            poll("BFD Up again", lambda: status_bfd(sp).get("state") == "Up", 15)
            poll("herald established again", lambda: sp.established(router), 15)
            fl.wait_all()
            log(f"ok   link back: BFD Up, session and next hop back after {time.monotonic() - t0:.1f} s")
        except (AssertionError, L.Timeout):
            for s in fl.speakers:
                log_tail(s, 60)
            raise


def _assert(cond, msg):
    if not cond:
        raise AssertionError(msg)


def require(router_kind):
    L.require_root_and_tools(["ip", "unshare", "stdbuf"] + TOOLS[router_kind])
    require_speaker()
    if speaker_kind() != "herald":
        L.skip("BFD needs herald-speaker (the gobgp stand-in has no BFD)")


def main(argv):
    if len(argv) != 2 or argv[1] not in TOOLS:
        print(f"usage: {argv[0]} bird|frr", file=sys.stderr)
        return 2
    require(argv[1])
    return L.run_checks(check_failover, argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
