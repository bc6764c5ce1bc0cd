#!/usr/bin/env python3
# Speaker benchmark of issue 4: how fast each sender (Herald, BIRD, FRR,
# GoBGP) gets N routes into the same receiver, and its peak RSS.
#
#   python3 bench_speakers.py [--case NAME ...] [--senders herald,bird,frr,gobgp]
#
# Cases: v6-100k and v6-1m (IPv6 /128 inside 2001:db8::/32, BIRD receiver),
# v4-100k (IPv4 /32 from 127.16.0.0/12, GoBGP receiver: BIRD refuses 127/8).
# For each case and sender, a fresh pair of namespaces; the sender is started
# first and loads all N routes (checked through its own CLI or, for Herald,
# its status file), then the passive receiver starts. Measured on the
# receiver, polled with deadlines: Established, 99% of N, 100% of N (time
# from Established), then the sender's VmHWM. The routes are BGP payload
# only: no kernel protocol in BIRD, bgpd -Z (no zebra), no zebra in GoBGP.
# Herald's row is skipped with a note while herald-speaker is not built.
import argparse
import ipaddress
import json
import os
import re
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import log, poll, run  # noqa: E402
from peers import free_api_port, gobgp_state  # noqa: E402
from speakers import herald_binary  # noqa: E402

CASES = {
    "v6-100k": (100_000, "ipv6", "bird"),
    "v6-1m": (1_000_000, "ipv6", "bird"),
    "v4-100k": (100_000, "ipv4", "gobgp"),
}
SENDERS = ["herald", "bird", "frr", "gobgp"]
RCV = {"ipv4": "192.0.2.1", "ipv6": "2001:db8::1"}
SND = {"ipv4": "192.0.2.2", "ipv6": "2001:db8::2"}
SND_ASN, RCV_ASN = 65001, 65000


def prefixes(n, fam):
    if fam == "ipv6":
        base = int(ipaddress.ip_address("2001:db8:0:1::"))
        return [f"{ipaddress.ip_address(base + i)}/128" for i in range(n)]
    base = int(ipaddress.ip_address("127.16.0.0"))
    assert n <= 1 << 20, "127.16.0.0/12 holds 2^20 addresses"
    return [f"{ipaddress.ip_address(base + i)}/32" for i in range(n)]


def write_mrt(path, pfx, fam):
    """An MRT TABLE_DUMP_V2 file (RFC 6396) for `gobgp mrt inject global`:
    one peer, one RIB entry per prefix with ORIGIN, empty AS_PATH and the
    next hop (NEXT_HOP, or MP_REACH_NLRI in the full form gobgp parses)."""
    nh = ipaddress.ip_address(SND[fam]).packed
    attrs = bytes([0x40, 1, 1, 0, 0x40, 2, 0])
    if fam == "ipv6":
        attrs += bytes([0x80, 14, 5 + len(nh), 0, 2, 1, len(nh)]) + nh + b"\0"
    else:
        attrs += bytes([0x40, 3, 4]) + nh
    sub = 4 if fam == "ipv6" else 2  # RIB_IPV6_UNICAST / RIB_IPV4_UNICAST
    with open(path, "wb") as f:
        def rec(subtype, body):
            f.write(struct.pack(">IHHI", 0, 13, subtype, len(body)) + body)
        rid = ipaddress.ip_address(SND["ipv4"]).packed
        rec(1, rid + struct.pack(">HH", 0, 1) + struct.pack(">B4s4sI", 0x02, rid, rid, SND_ASN))
        tail = struct.pack(">HHIH", 1, 0, 0, len(attrs)) + attrs
        # `gobgp mrt inject` drops its last unsent batch when it exits: pad
        # with repeats of the first prefix (the same path again, a no-op).
        for seq, p in enumerate(pfx + pfx[:1] * 4096):
            net = ipaddress.ip_network(p)
            rec(sub, struct.pack(">IB", seq, net.prefixlen)
                + net.network_address.packed[:(net.prefixlen + 7) // 8] + tail)


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
    return int(m.group(1)) * 1024 if m else 0


# ------------------------------------------------------------------ senders
def start_sender(lab, kind, ns, fam, pfx):
    """Starts the sender with all routes loaded; returns its Proc."""
    d = lab.path(f"snd-{kind}")
    os.makedirs(d, exist_ok=True)
    peer, me, n = RCV[fam], SND[fam], len(pfx)
    if kind == "herald":
        cfg = {"router_id": SND["ipv4"], "local_asn": SND_ASN, "hostname": "bench-sender",
               "peers": [{"address": peer, "asn": RCV_ASN, "connect_retry": 1,
                          "families": [f"{fam}-unicast"]}],
               # The same N consecutive prefixes as one block (docs/standalone.md
               # `count`): a million-entry JSON file would measure nlohmann's
               # parser, not the speaker.
               "routes": [{"prefix": pfx[0], "count": n}]}
        with open(f"{d}/speaker.json", "w") as f:
            json.dump(cfg, f)
        p = lab.start("sender", ns, [herald_binary(), "--config", f"{d}/speaker.json",
                                     "--status-file", f"{d}/status.json",
                                     "--log-level", os.environ.get("HERALD_BENCH_LOG", "warn"),
                                     # the figures are the speaker's: no API, whose route-age map costs memory per route
                                     "--grpc", "off"])
        poll("herald-speaker status file", lambda: os.path.exists(f"{d}/status.json")
             or not p.alive(), 120)
        return p
    if kind == "bird":
        with open(f"{d}/bird.conf", "w") as f:
            f.write(f"router id {SND['ipv4']};\nprotocol device {{}}\n"
                    f"protocol static st {{ {fam};\n")
            f.writelines(f"route {x} blackhole;\n" for x in pfx)
            f.write(f"}};\nprotocol bgp rcv {{ local {me} as {SND_ASN}; neighbor {peer} as {RCV_ASN};"
                    f" connect delay time 1; connect retry time 1; {fam} {{ import none; "
                    f"export all; }}; }}\n")
        p = lab.start("sender", ns, ["bird", "-f", "-c", f"{d}/bird.conf", "-s", f"{d}/ctl"])
        poll(f"BIRD sender holds {n} routes", lambda: re.search(
            r"Routes:\s+(\d+) imported", run("birdc", "-s", f"{d}/ctl", "show", "protocols", "all",
                                             "st", ns=ns, check=False) or "")
            and int(re.search(r"Routes:\s+(\d+) imported",
                              run("birdc", "-s", f"{d}/ctl", "show", "protocols", "all", "st",
                                  ns=ns)).group(1)) >= n, 600, interval=0.5)
        return p
    if kind == "frr":
        import pwd
        frr = pwd.getpwnam("frr")
        os.makedirs(f"{d}/vty", exist_ok=True)
        with open(f"{d}/bgpd.conf", "w") as f:
            f.write(f"router bgp {SND_ASN}\n bgp router-id {SND['ipv4']}\n"
                    " no bgp ebgp-requires-policy\n no bgp network import-check\n"
                    " no bgp default ipv4-unicast\n"
                    f" neighbor {peer} remote-as {RCV_ASN}\n neighbor {peer} timers connect 1\n"
                    f" address-family {fam} unicast\n  neighbor {peer} activate\n")
            f.writelines(f"  network {x}\n" for x in pfx)
            f.write(" exit-address-family\nexit\n")
        for x in (d, f"{d}/vty", f"{d}/bgpd.conf"):
            os.chown(x, frr.pw_uid, frr.pw_gid)
        p = lab.start("sender", ns, ["/usr/lib/frr/bgpd", "-Z", "-n", "-f", f"{d}/bgpd.conf",
                                     "-i", f"{d}/bgpd.pid", "--vty_socket", f"{d}/vty",
                                     "-A", "127.0.0.1", "-P", "0"])

        def loaded():
            out = run("vtysh", "--vty_socket", f"{d}/vty", "-d", "bgpd", "-c",
                      f"show bgp {fam} unicast summary json", ns=ns, check=False)
            return out.strip().startswith("{") and json.loads(out).get(
                f"{fam}Unicast", json.loads(out)).get("ribCount", 0) >= n
        poll(f"FRR sender holds {n} routes", loaded, 900, interval=0.5)
        return p
    if kind == "gobgp":
        port = free_api_port()
        with open(f"{d}/gobgpd.toml", "w") as f:
            f.write(f'[global.config]\n  as = {SND_ASN}\n  router-id = "{SND["ipv4"]}"\n'
                    f'  port = -1\n\n[[neighbors]]\n  [neighbors.config]\n'
                    f'    neighbor-address = "{peer}"\n    peer-as = {RCV_ASN}\n'
                    f'  [neighbors.timers.config]\n    connect-retry = 1\n'
                    f'  [neighbors.transport.config]\n    local-address = "{me}"\n'
                    f'  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n'
                    f'      afi-safi-name = "{fam}-unicast"\n')
        write_mrt(f"{d}/routes.mrt", pfx, fam)
        p = lab.start("sender", ns, ["gobgpd", "-f", f"{d}/gobgpd.toml", "--api-hosts",
                                     f"127.0.0.1:{port}", "--pprof-disable", "-l", "warn"])
        g = ["gobgp", "-p", str(port)]
        poll("gobgpd API", lambda: "AS:" in run(*g, "global", ns=ns, check=False), 15)

        def count():
            m = re.search(r"Destination:\s+(\d+)", run(*g, "global", "rib", "summary", "-a",
                                                       fam, ns=ns, check=False))
            return int(m.group(1)) if m else 0
        for _ in range(3):  # re-injecting the same paths is idempotent
            run(*g, "mrt", "inject", "global", f"{d}/routes.mrt", ns=ns, timeout=900)
            try:
                poll(f"GoBGP sender holds {n} routes", lambda: count() >= n, 30, interval=0.5)
                return p
            except L.Timeout:
                log(f"gobgp sender holds {count()} of {n} routes after inject; again")
        raise AssertionError(f"gobgp sender holds {count()} of {n} routes")
    raise ValueError(kind)


# ---------------------------------------------------------------- receivers
class BirdReceiver:
    def __init__(self, lab, ns, fam):
        d = lab.path("rcv-bird")
        os.makedirs(d, exist_ok=True)
        self.ns, self.sock = ns, f"{d}/ctl"
        with open(f"{d}/bird.conf", "w") as f:
            # No kernel protocol: the routes never reach a kernel table.
            f.write(f"router id {RCV['ipv4']};\nprotocol device {{}}\n"
                    f"protocol bgp snd {{ local {RCV[fam]} as {RCV_ASN}; neighbor {SND[fam]} as "
                    f"{SND_ASN}; passive on; {fam} {{ import all; export none; }}; }}\n")
        self.proc = lab.start("receiver", ns, ["bird", "-f", "-c", f"{d}/bird.conf", "-s", self.sock])
        poll("BIRD receiver socket", lambda: "BIRD" in run("birdc", "-s", self.sock, "show", "status",
                                                            ns=ns, check=False), 15)

    def _proto(self):
        return run("birdc", "-s", self.sock, "show", "protocols", "all", "snd", ns=self.ns)

    def established(self):
        return "Established" in self._proto()

    def count(self):
        m = re.search(r"Routes:\s+(\d+) imported", self._proto())
        return int(m.group(1)) if m else 0


class GobgpReceiver:
    def __init__(self, lab, ns, fam):
        d = lab.path("rcv-gobgp")
        os.makedirs(d, exist_ok=True)
        self.ns, self.port, self.fam = ns, free_api_port(), fam
        with open(f"{d}/gobgpd.toml", "w") as f:
            f.write(f'[global.config]\n  as = {RCV_ASN}\n  router-id = "{RCV["ipv4"]}"\n\n'
                    f'[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "{SND[fam]}"\n'
                    f'    peer-as = {SND_ASN}\n  [neighbors.transport.config]\n'
                    f'    passive-mode = true\n  [[neighbors.afi-safis]]\n'
                    f'    [neighbors.afi-safis.config]\n      afi-safi-name = "{fam}-unicast"\n')
        self.proc = lab.start("receiver", ns, ["gobgpd", "-f", f"{d}/gobgpd.toml", "--api-hosts",
                                               f"127.0.0.1:{self.port}", "--pprof-disable",
                                               "-l", "warn"])
        poll("gobgpd receiver API", lambda: "AS:" in run("gobgp", "-p", str(self.port), "global",
                                                          ns=ns, check=False), 15)

    def _nb(self):
        return json.loads(run("gobgp", "-p", str(self.port), "neighbor", SND[self.fam], "-j",
                              ns=self.ns))

    def established(self):
        return gobgp_state(self._nb().get("state", {}).get("session_state", 0)) == "established"

    def count(self):
        return sum(a.get("state", {}).get("received", 0) for a in self._nb().get("afi_safis", []))


RECEIVERS = {"bird": BirdReceiver, "gobgp": GobgpReceiver}


def measure(case, sender):
    n, fam, receiver = CASES[case]
    pfx = prefixes(n, fam)
    with L.Lab(f"bench-{case}-{sender}") as lab:
        sns, rns = lab.netns("snd"), lab.netns("rcv")
        lab.veth(sns, "eth0", rns, "eth0")
        for ns, a in ((sns, SND), (rns, RCV)):
            lab.addr(ns, "eth0", f"{a['ipv4']}/24")
            lab.addr(ns, "eth0", f"{a['ipv6']}/64")
        lab.wait_reachable(sns, RCV[fam])
        t_load = time.monotonic()
        sp = start_sender(lab, sender, sns, fam, pfx)
        if not sp.alive():
            raise AssertionError(f"{sender} exited while loading: {sp.output()[-500:]}")
        load = time.monotonic() - t_load
        rcv = RECEIVERS[receiver](lab, rns, fam)
        poll(f"{sender} -> {receiver} Established", rcv.established, 60, interval=0.02)
        t0 = time.monotonic()
        t99 = [None]

        def full():
            c = rcv.count()
            if t99[0] is None and c >= 0.99 * n:
                t99[0] = time.monotonic() - t0
            return c >= n
        poll(f"{receiver} holds {n} routes from {sender}", full, 900, interval=0.05)
        t100 = time.monotonic() - t0
        rss = vm_hwm(sp.pid)
        return {"t99": t99[0], "t100": t100, "rss": rss, "load": load}


def main():
    ap = argparse.ArgumentParser(description="Speaker benchmark of issue 4 (docs/interop.md)")
    ap.add_argument("--case", action="append", choices=list(CASES))
    ap.add_argument("--senders", default=",".join(SENDERS))
    args = ap.parse_args()
    senders = [s for s in args.senders.split(",") if s]
    L.require_root_and_tools(["bird", "birdc", "gobgpd", "gobgp", "/usr/lib/frr/bgpd", "vtysh"])
    rows = []
    for case in args.case or list(CASES):
        res = {}
        for s in senders:
            if s == "herald" and not herald_binary():
                res[s] = "skipped: herald-speaker not built yet"
                continue
            if s == "bird" and CASES[case][1] == "ipv4":
                # BIRD silently drops static routes in 127/8 (martians).
                res[s] = "n/a: BIRD drops 127/8 routes"
                continue
            log(f"{case}: sender {s}")
            try:
                res[s] = measure(case, s)
                log(f"{case}: {s}: {res[s]}")
            except (AssertionError, L.Timeout) as e:
                res[s] = f"failed: {e}"
        rows.append((case, res))
    n_fmt = {c: f"{CASES[c][0]:,} {CASES[c][1]} -> {CASES[c][2]}" for c in CASES}
    print()
    print(f"{'case':<28} {'sender':<7} {'99% s':>7} {'100% s':>7} {'RSS MB':>8} "
          f"{'time/herald':>11} {'RSS/herald':>10} {'load s':>7}")
    for case, res in rows:
        h = res.get("herald") if isinstance(res.get("herald"), dict) else None
        for s, r in res.items():
            if not isinstance(r, dict):
                print(f"{n_fmt[case]:<28} {s:<7} {r}")
                continue
            tr = f"{r['t100'] / h['t100']:.2f}x" if h and h["t100"] else "-"
            rr = f"{r['rss'] / h['rss']:.2f}x" if h and h["rss"] else "-"
            print(f"{n_fmt[case]:<28} {s:<7} {r['t99']:7.2f} {r['t100']:7.2f} "
                  f"{r['rss'] / 1e6:8.0f} {tr:>11} {rr:>10} {r['load']:7.1f}")
    failed = any(isinstance(r, str) and r.startswith("failed") for _, res in rows
                 for r in res.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
