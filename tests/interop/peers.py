# Router drivers for the interop suite: BIRD 2, FRR 8 and GoBGP 3 as the
# router that Herald's speakers peer with, one interface for the three.
# Each generates its configuration for N neighbors (eBGP or iBGP, IPv4 or IPv6
# transport, TCP MD5 (RFC 2385), multipath for ECMP), starts and stops its
# daemons by pid inside the router's namespace, and answers:
#   state(addr)        session state of one neighbor ('established', ...)
#   route(prefix)      the RIB entry (Route below) or None
#   updates(addr)      a counter that grows when the neighbor sends routes
#   soft_reset(addr)   route refresh towards the neighbor (RFC 2918)
#   fib(prefix)        kernel next hops (`ip route` in the namespace)
# Received routes are installed in the kernel only with kernel=True (ECMP).
# A Neighbor with bfd={"min_tx": MS, "min_rx": MS, "multiplier": N} runs BFD
# (RFC 5880 / 5881) with the session: BIRD's `bfd` protocol, FRR's bfdd.
# The configuration text comes from docs/routers/ (bird.conf, frr.conf,
# gobgpd.toml), which docs/routers.md shows operators: the suites run the
# files the documentation shows, part by part ("@section" markers).
import ipaddress
import json
import os
import pwd
import re
import signal
import string
import struct

from lab import poll, run

ROUTER_ID = "192.0.2.1"
LOCAL_ASN = 65000
ROUTER_CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "routers")


class ConfigTemplate:
    """A router configuration file of docs/routers/: parts that start at a
    line "# @section NAME" (or "! @section NAME"), with ${name} placeholders.
    Lines before the first part are the file's own commentary."""

    def __init__(self, filename):
        self.parts, name = {}, None
        with open(os.path.join(ROUTER_CONFIGS, filename)) as f:
            for line in f:
                m = re.match(r"^[#!] @section (\S+)\s*$", line)
                if m:
                    name = m.group(1)
                    self.parts[name] = []
                elif name is not None:
                    self.parts[name].append(line)

    def render(self, part, **values):
        """The part with its placeholders filled in; a missing value is a KeyError."""
        return string.Template("".join(self.parts[part])).substitute(values).rstrip("\n")

    def lines(self, part, **values):
        return self.render(part, **values).split("\n")


_templates = {}


def template(filename):
    if filename not in _templates:
        _templates[filename] = ConfigTemplate(filename)
    return _templates[filename]


class Neighbor:
    def __init__(self, address, asn, password=None, hold_time=None, bfd=None, ttl_security=False):
        self.address, self.asn, self.password, self.hold_time = address, asn, password, hold_time
        self.bfd = bfd
        self.ttl_security = ttl_security  # RFC 5082 (GTSM): the router accepts only TTL 255


class Route:
    """One path of a prefix in a router's RIB, normalised across routers.
    ext holds link bandwidth as 'link-bandwidth:ASN:BYTES' (transitive or
    not, as the router can tell), other extended communities as the router
    prints them."""

    def __init__(self, prefix, next_hops, communities=(), large=(), ext=(),
                 local_pref=None, med=None, stale=False):
        self.prefix = prefix
        self.next_hops = set(next_hops)
        self.communities = set(communities)
        self.large = set(large)
        self.ext = set(ext)
        self.local_pref, self.med, self.stale = local_pref, med, stale

    def __repr__(self):
        return (f"Route({self.prefix} via {sorted(self.next_hops)} comm={sorted(self.communities)} "
                f"large={sorted(self.large)} ext={sorted(self.ext)} lp={self.local_pref} "
                f"med={self.med} stale={self.stale})")


# FRR prints well-known communities (RFC 1997, RFC 8326, RFC 7999, ...) by name.
_FRR_WELL_KNOWN = {
    "graceful-shutdown": "65535:0", "accept-own": "65535:1", "llgr-stale": "65535:6",
    "no-llgr": "65535:7", "accept-own-nexthop": "65535:8", "blackhole": "65535:666",
    "no-export": "65535:65281", "no-advertise": "65535:65282", "local-AS": "65535:65283",
    "no-peer": "65535:65284",
}


def _lb(asn, bw_bytes):
    return f"link-bandwidth:{asn}:{int(round(bw_bytes))}"


def fib(ns, prefix):
    """Kernel next hops of prefix in ns: set of gateway addresses ('' for a
    directly connected route); empty when absent."""
    fam = "-6" if ":" in prefix else "-4"
    out = run("ip", "-j", fam, "route", "show", prefix, ns=ns)
    hops = set()
    for r in json.loads(out or "[]"):
        if r.get("dst") not in (prefix, prefix.split("/")[0]):
            continue
        if "nexthops" in r:
            hops |= {h.get("gateway", "") for h in r["nexthops"]}
        else:
            hops.add(r.get("gateway", ""))
    return hops


class Router:
    kind = "?"

    def __init__(self, lab, ns, neighbors, multipath=False, kernel=False, asn=LOCAL_ASN):
        self.lab, self.ns, self.neighbors = lab, ns, list(neighbors)
        self.multipath, self.kernel, self.asn = multipath, kernel, asn
        self.procs = []

    def is_ibgp(self, nb):
        return nb.asn == self.asn

    def established(self, addr):
        return self.state(addr) == "established"

    def wait_established(self, addrs, timeout=30):
        for a in addrs:
            poll(f"{self.kind} session with {a} established", lambda a=a: self.established(a), timeout)

    def freeze(self):
        for p in self.procs:
            p.send(signal.SIGSTOP)

    def thaw(self):
        for p in self.procs:
            p.send(signal.SIGCONT)

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []

    def restart(self):
        self.stop()
        self.start()

    def fib(self, prefix):
        return fib(self.ns, prefix)

    def _write_config(self, sub, filename):
        """Writes self.config() to <lab>/<sub>/<filename>; returns the directory."""
        d = self.lab.path(sub)
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/{filename}", "w") as f:
            f.write(self.config())
        return d


# --------------------------------------------------------------------- BIRD
class Bird(Router):
    kind = "bird"

    def _name(self, addr):
        return "n" + str(self.neighbors.index(next(n for n in self.neighbors if n.address == addr)))

    def config(self):
        t = template("bird.conf")
        lines = [t.render("global", dir=self.lab.path("bird"), router_id=ROUTER_ID)]
        if self.kernel:
            ecmp = t.render("kernel-ecmp") if self.multipath else ""
            for fam in ("ipv4", "ipv6"):
                lines.append(t.render("kernel", v=fam[-1], family=fam, ecmp=ecmp))
        bfd = next((nb.bfd for nb in self.neighbors if nb.bfd), None)
        if bfd:
            # Per interface in BIRD: the first neighbor's timers apply to all
            # (the tests give all the same).
            lines.append(t.render("bfd", **bfd))
        for i, nb in enumerate(self.neighbors):
            options = [t.render("neighbor-ibgp") if self.is_ibgp(nb) else "",  # iBGP defaults to multihop
                       t.render("neighbor-password", password=nb.password) if nb.password else "",
                       t.render("neighbor-bfd") if nb.bfd else "",
                       t.render("neighbor-hold", hold_time=nb.hold_time) if nb.hold_time else "",
                       t.render("neighbor-ttl-security") if nb.ttl_security else ""]
            lines.append(t.render("neighbor", name=f"n{i}", local_as=self.asn, address=nb.address, asn=nb.asn,
                                  options=" ".join(o for o in options if o)))
        return "\n".join(lines) + "\n"

    def start(self):
        d = self._write_config("bird", "bird.conf")
        self.sock = f"{d}/bird.ctl"
        p = self.lab.start("bird", self.ns, ["bird", "-f", "-c", f"{d}/bird.conf", "-s", self.sock,
                                             "-P", f"{d}/bird.pid"], hostname="bird-router")
        self.procs = [p]
        poll("BIRD control socket", lambda: "BIRD" in self.birdc("show status"), 15)

    def bfd_state(self, addr):
        """'up', 'down', 'init' or 'unknown': BIRD's BFD session with addr."""
        for line in self.birdc("show", "bfd", "sessions", check=False).split("\n"):
            f = line.split()
            if f and f[0] == addr and len(f) > 2:
                return f[2].lower()
        return "unknown"

    def birdc(self, *cmd, check=True):
        return run("birdc", "-s", self.sock, *cmd, ns=self.ns, check=check)

    def state(self, addr):
        out = self.birdc("show", "protocols", self._name(addr))
        m = re.search(rf"^{self._name(addr)}\s+BGP\s+\S+\s+(\S+)\s+\S+\s+(\S+)", out, re.M)
        if not m:
            return "unknown"
        return "established" if m.group(2) == "Established" else m.group(2).lower()

    def route(self, prefix):
        r = self.routes(prefix)
        return r[0] if r else None

    def routes(self, prefix):
        # birdc exits 1 with "Network not found" when the prefix is absent.
        out = self.birdc("show", "route", "for", prefix, "all", check=False)
        parts = re.split(r"\n(?=(?:\S|\s{10,}unicast))", out)
        return [_parse_bird(prefix, b) for b in parts if "unicast" in b.split("\n")[0]]

    def updates(self, addr):
        out = self.birdc("show", "protocols", "all", self._name(addr))
        return sum(int(m) for m in re.findall(r"Import updates:\s+(\d+)", out))

    def soft_reset(self, addr):
        self.birdc("reload", "in", self._name(addr))


def _parse_bird(prefix, block):
    nh, comm, large, ext, lp, med = set(), set(), set(), set(), None, None
    stale = bool(re.search(r"\bstale\b", block.split("\n")[0]))
    for line in block.split("\n"):
        line = line.strip()
        if line.startswith("via "):
            nh.add(line.split()[1])
        elif line.startswith("BGP.next_hop:"):
            if not nh:
                nh.add(line.split()[1])
        elif line.startswith("BGP.community:"):
            comm |= {f"{a}:{b}" for a, b in re.findall(r"\((\d+),\s*(\d+)\)", line)}
        elif line.startswith("BGP.large_community:"):
            large |= {f"{a}:{b}:{c}" for a, b, c in re.findall(r"\((\d+),\s*(\d+),\s*(\d+)\)", line)}
        elif line.startswith("BGP.ext_community:"):
            for kind, a, b in re.findall(r"\(([^,()]+),\s*([^,()]+),\s*([^,()]+)\)", line):
                ext.add(_bird_ext(kind.strip(), a.strip(), b.strip()))
        elif line.startswith("BGP.local_pref:"):
            lp = int(line.split()[1])
        elif line.startswith("BGP.med:"):
            med = int(line.split()[1])
    return Route(prefix, nh, comm, large, ext, lp, med, stale)


def _bird_ext(kind, a, b):
    # BIRD 2.0 prints link bandwidth (type 0x00 or 0x40, subtype 0x04) as
    # "(unknown 0x4004, ASN, FLOAT-BITS-AS-INTEGER)".
    m = re.match(r"unknown 0x([0-9a-f]+)$", kind)
    if m and int(m.group(1), 16) in (0x4004, 0x0004):
        bw = struct.unpack(">f", struct.pack(">I", int(b, 0)))[0]
        return _lb(int(a, 0), bw)
    return f"{kind}:{a}:{b}"


# ---------------------------------------------------------------------- FRR
class Frr(Router):
    kind = "frr"

    def config(self):
        t = template("frr.conf")
        c = t.lines("global", dir=self.lab.path("frr"), local_as=self.asn, router_id=ROUTER_ID)
        for nb in self.neighbors:
            c += t.lines("neighbor", address=nb.address, asn=nb.asn)
            if nb.password:
                c += t.lines("neighbor-password", address=nb.address, password=nb.password)
            if nb.hold_time:
                c += t.lines("neighbor-hold", address=nb.address, keepalive=max(1, nb.hold_time // 3),
                             hold_time=nb.hold_time)
            if nb.ttl_security:
                c += t.lines("neighbor-ttl-security", address=nb.address)
            if nb.bfd:
                c += t.lines("neighbor-bfd", address=nb.address, profile=self._bfd_profile(nb.bfd))
        for fam in ("ipv4", "ipv6"):
            c += t.lines("family", family=fam)
            if self.multipath:
                c += t.lines("family-multipath")
            for nb in self.neighbors:
                c += t.lines("family-neighbor", address=nb.address)
            c += t.lines("family-end")
        c += t.lines("end")
        return "\n".join(c) + "\n"

    @staticmethod
    def _bfd_profile(bfd):
        return f"h{bfd['min_tx']}-{bfd['min_rx']}-{bfd['multiplier']}"

    def bfdd_config(self):
        t = template("frr.conf")
        c = t.lines("bfdd", dir=self.lab.path("frr"))
        for bfd in {self._bfd_profile(nb.bfd): nb.bfd for nb in self.neighbors if nb.bfd}.values():
            c += t.lines("bfdd-profile", profile=self._bfd_profile(bfd), **bfd)
        return "\n".join(c + t.lines("bfdd-end")) + "\n"

    def start(self):
        d = self.lab.path("frr")
        os.makedirs(f"{d}/vty", exist_ok=True)
        with open(f"{d}/bgpd.conf", "w") as f:
            f.write(self.config())
        with open(f"{d}/bfdd.conf", "w") as f:
            f.write(self.bfdd_config())
        with open(f"{d}/zebra.conf", "w") as f:
            f.write(template("frr.conf").render("zebra", dir=d) + "\n")
        frr = pwd.getpwnam("frr")
        for root, dirs, files in os.walk(d):
            for x in [root] + [os.path.join(root, y) for y in dirs + files]:
                os.chown(x, frr.pw_uid, frr.pw_gid)
        self.vty = f"{d}/vty"
        common = ["-z", f"{d}/zserv.api", "--vty_socket", self.vty, "-A", "127.0.0.1", "-P", "0"]
        zebra = self.lab.start("zebra", self.ns, ["/usr/lib/frr/zebra", "-f", f"{d}/zebra.conf",
                                                  "-i", f"{d}/zebra.pid"] + common,
                               hostname="frr-router")
        poll("zebra socket", lambda: os.path.exists(f"{d}/zserv.api"), 20)
        self.procs = [zebra]
        if any(nb.bfd for nb in self.neighbors):
            # bfdd before bgpd, so that bgpd's BFD registrations find it.
            self.procs.append(self.lab.start(
                "bfdd", self.ns, ["/usr/lib/frr/bfdd", "-f", f"{d}/bfdd.conf", "-i", f"{d}/bfdd.pid",
                                  "--bfdctl", f"{d}/bfdd.sock"] + common, hostname="frr-router"))
            poll("bfdd vty", lambda: os.path.exists(f"{self.vty}/bfdd.vty"), 20)
        extra = [] if self.kernel else ["-n"]  # -n: never install into the kernel
        bgpd = self.lab.start("bgpd", self.ns, ["/usr/lib/frr/bgpd", "-f", f"{d}/bgpd.conf",
                                                "-i", f"{d}/bgpd.pid"] + extra + common,
                              hostname="frr-router")
        self.procs.append(bgpd)
        poll("bgpd vty", lambda: self.vtysh("show bgp summary json").strip().startswith("{"), 20)

    def stop(self):
        super().stop()
        d = self.lab.path("frr")
        for f in ("zserv.api", "vty/bgpd.vty", "vty/zebra.vty", "vty/bfdd.vty", "bfdd.sock"):
            try:
                os.unlink(f"{d}/{f}")
            except FileNotFoundError:
                pass

    def vtysh(self, *cmds):
        args = ["vtysh", "--vty_socket", self.vty, "-d", "bgpd"]
        for c in cmds:
            args += ["-c", c]
        return run(*args, ns=self.ns)

    def bfd_state(self, addr):
        """'up', 'down', 'init' or 'unknown': bfdd's session with addr."""
        args = ["vtysh", "--vty_socket", self.vty, "-d", "bfdd", "-c", "show bfd peers json"]
        for p in json.loads(run(*args, ns=self.ns, check=False) or "[]"):
            if p.get("peer") == addr:
                return p.get("status", "unknown")
        return "unknown"

    def _neighbor(self, addr):
        out = json.loads(self.vtysh(f"show bgp neighbors {addr} json") or "{}")
        return out.get(addr, {})

    def state(self, addr):
        return self._neighbor(addr).get("bgpState", "unknown").lower()

    def routes(self, prefix):
        fam = "ipv6" if ":" in prefix else "ipv4"
        out = json.loads(self.vtysh(f"show bgp {fam} unicast {prefix} json") or "{}")
        res = []
        for p in out.get("paths", []):
            ext = set()
            # e.g. "RT:65001:1 LB:65001:125000 (1.000 Mbps)"
            text = re.sub(r"\([^)]*\)", "", p.get("extendedCommunity", {}).get("string", ""))
            for e in text.split():
                m = re.match(r"LB:(\d+):(\d+)$", e)
                ext.add(_lb(m.group(1), int(m.group(2))) if m else e)
            res.append(Route(
                prefix, {h["ip"] for h in p.get("nexthops", []) if h.get("scope") != "link-local"},
                [_FRR_WELL_KNOWN.get(c, c) for c in p.get("community", {}).get("string", "").split()],
                p.get("largeCommunity", {}).get("string", "").split(), ext,
                p.get("locPrf"), p.get("metric"), bool(p.get("stale"))))
        return res

    def route(self, prefix):
        r = self.routes(prefix)
        return r[0] if r else None

    def updates(self, addr):
        return self._neighbor(addr).get("messageStats", {}).get("updatesRecv", 0)

    def soft_reset(self, addr):
        run("vtysh", "--vty_socket", self.vty, "-d", "bgpd", "-c", f"clear bgp {addr} soft in",
            ns=self.ns)


# -------------------------------------------------------------------- GoBGP
class Gobgp(Router):
    kind = "gobgp"

    def config(self):
        t = template("gobgpd.toml")
        c = t.lines("global", local_as=self.asn, router_id=ROUTER_ID) + [""]
        if self.multipath:
            c += t.lines("multipath") + [""]
        for nb in self.neighbors:
            c += t.lines("neighbor", address=nb.address, asn=nb.asn)
            if nb.password:
                c += t.lines("neighbor-password", password=nb.password)
            c += t.lines("neighbor-timers")
            if nb.hold_time:
                c += t.lines("neighbor-hold", hold_time=nb.hold_time, keepalive=max(1, nb.hold_time // 3))
            if nb.ttl_security:
                c += t.lines("neighbor-ttl-security")
            c += t.lines("neighbor-graceful-restart")
            for fam in ("ipv4-unicast", "ipv6-unicast"):
                c += t.lines("neighbor-family", family=fam)
            c.append("")
        return "\n".join(c) + "\n"

    def start(self):
        d = self._write_config("gobgp-router", "gobgpd.toml")
        self.port = free_api_port()
        p = self.lab.start("gobgpd-router", self.ns,
                           ["gobgpd", "-f", f"{d}/gobgpd.toml", "-p", "--api-hosts",
                            f"127.0.0.1:{self.port}", "--pprof-disable"], hostname="gobgp-router")
        self.procs = [p]
        poll("gobgpd API", lambda: "AS:" in run("gobgp", "-p", str(self.port), "global",
                                                  ns=self.ns, check=False), 15)

    def gobgp(self, *args):
        return run("gobgp", "-p", str(self.port), *args, ns=self.ns)

    def _neighbor(self, addr):
        return json.loads(self.gobgp("neighbor", addr, "-j"))

    def state(self, addr):
        st = self._neighbor(addr).get("state", {}).get("session_state", 0)
        return gobgp_state(st)

    def routes(self, prefix):
        fam = "ipv6" if ":" in prefix else "ipv4"
        out = run("gobgp", "-p", str(self.port), "global", "rib", "-a", fam, prefix, "-j",
                  ns=self.ns, check=False)
        if not out.strip().startswith("{"):
            return []
        res = []
        for dest in json.loads(out).values():
            for p in dest:
                res.append(_parse_gobgp_path(prefix, p))
        return res

    def route(self, prefix):
        r = self.routes(prefix)
        return r[0] if r else None

    def updates(self, addr):
        return (self._neighbor(addr).get("state", {}).get("messages", {})
                .get("received", {}).get("update", 0))

    def soft_reset(self, addr):
        # GoBGP keeps every Adj-RIB-In, and `softresetin` only re-runs its
        # import policy over it (server.go softResetIn): no ROUTE-REFRESH is
        # ever sent, so the router side cannot ask for a re-send.
        raise NotImplementedError("GoBGP cannot send ROUTE-REFRESH (softresetin is local)")


_GOBGP_STATES = {0: "unknown", 1: "idle", 2: "connect", 3: "active", 4: "opensent",
                 5: "openconfirm", 6: "established"}


def gobgp_state(st):
    if isinstance(st, int):
        return _GOBGP_STATES.get(st, "unknown")
    return str(st).lower().replace("session_state_", "")


def _parse_gobgp_path(prefix, p):
    nh, comm, large, ext, lp, med = set(), set(), set(), set(), None, None
    for a in p.get("attrs", []):
        t = a.get("type")
        if t == 3:
            nh.add(a["nexthop"])
        elif t == 14:
            nh.add(a["nexthop"])
        elif t == 4:
            med = a.get("metric")
        elif t == 5:
            lp = a.get("value")
        elif t == 8:
            comm |= {f"{c >> 16}:{c & 0xFFFF}" for c in a.get("communities", [])}
        elif t == 32:
            large |= {f"{c['ASN']}:{c['LocalData1']}:{c['LocalData2']}" for c in a.get("value", [])}
        elif t == 16:
            for e in a.get("value", []):
                if e.get("subtype") == 4 and "bandwidth" in e:
                    ext.add(_lb(e["asn"], e["bandwidth"]))
                else:
                    ext.add(json.dumps(e, sort_keys=True))
    return Route(prefix, nh, comm, large, ext, lp, med, bool(p.get("stale")))


_next_port = [0]


def free_api_port():
    """A gobgpd API port on 127.0.0.1 of a fresh namespace: each namespace has
    its own loopback, so ports only need to differ within one namespace; a
    random base keeps concurrent tests apart in logs."""
    import random
    if not _next_port[0]:
        _next_port[0] = random.randint(50100, 50900)
    _next_port[0] += 1
    return _next_port[0]


ROUTERS = {"bird": Bird, "frr": Frr, "gobgp": Gobgp}


def family_of(addr):
    return "ipv6" if ipaddress.ip_address(addr.split("/")[0]).version == 6 else "ipv4"
