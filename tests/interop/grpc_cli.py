#!/usr/bin/env python3
# Suite `grpc` (issue 9, docs/grpc.md): the stock `gobgp` CLI (Debian gobgpd
# 3.10) against a running herald-speaker that peers with a BIRD router in
# network namespaces. Every command of the reference
# (shared/reference/gobgp-cli-api.md) that Herald serves is run, in text and
# -j form: the JSON is parsed and checked for the values the speaker and the
# router hold, text headers are compared with the real gobgpd samples
# (tests/data/grpc/headers.txt), and the CLI must never crash (exit status 2,
# a Go nil-pointer panic). Operations are checked at the router: softresetout
# makes BIRD receive the routes again, shutdown / enable take the session
# down and up, `global rib add` / `del` announce and withdraw at BIRD.
#
#   python3 grpc_cli.py        exit 0 pass, 1 fail, 77 skip (1 under CI=true)
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import holds_for, log, poll  # noqa: E402
from peers import Bird, Neighbor  # noqa: E402
from speakers import log_tail, make_speaker, require_speaker, speaker_kind  # noqa: E402

ROUTER_V4, ROUTER_V6, ROUTER_ASN = "192.0.2.1", "2001:db8::1", 65000
NODE_V4, NODE_V6, NODE_ASN = "192.0.2.11", "2001:db8::11", 65001
OWN_V4 = ["198.51.100.11/32", "198.51.100.64/26"]
OWN_V6 = ["2001:db8:100::11/128", "2001:db8:100::/48"]
BIRD_V4 = ["203.0.113.0/25", "203.0.113.128/25"]
BIRD_V6 = ["2001:db8:77::/48"]
ADDED_V4, ADDED_V6 = "203.0.113.77/32", "2001:db8:99::/64"
HEADERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "grpc", "headers.txt")


class BirdSending(Bird):
    """BIRD that also announces static routes to the speaker (adj-in)."""

    def config(self):
        text = super().config().replace("export none;", "export where source = RTS_STATIC;")
        v4 = " ".join(f"route {p} unreachable;" for p in BIRD_V4)
        v6 = " ".join(f"route {p} unreachable;" for p in BIRD_V6)
        return text + f"protocol static s4 {{ ipv4; {v4} }}\nprotocol static s6 {{ ipv6; {v6} }}\n"


class Cli:
    """Runs `gobgp` in the speaker's namespace; a crash (exit 2) fails at once."""

    def __init__(self, ns):
        self.ns = ns
        self.ran = 0

    def __call__(self, *args, rc=0):
        cmd = ["ip", "netns", "exec", self.ns, "gobgp", *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        out = p.stdout + p.stderr
        self.ran += 1
        log(f"$ gobgp {' '.join(args)}   (exit {p.returncode})\n{out.rstrip()}")
        if p.returncode == 2 or "panic:" in out:
            raise AssertionError(f"gobgp {' '.join(args)} crashed (exit {p.returncode}):\n{out}")
        if rc is not None and p.returncode != rc:
            raise AssertionError(f"gobgp {' '.join(args)}: exit {p.returncode}, expected {rc}:\n{out}")
        return out

    def json(self, *args):
        return json.loads(self(*args, "-j"))


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def reference_headers():
    """Header lines of the gobgpd 3.10 samples, by name (tests/data/grpc/headers.txt)."""
    heads = {}
    with open(HEADERS) as f:
        for line in f:
            if line.startswith("#") or "|" not in line:
                continue
            name, text = line.rstrip("\n").split("|", 1)
            heads[name.strip()] = text
    expect(len(heads) >= 5, f"{HEADERS}: too few reference headers")
    return heads


def same_columns(out, reference, what):
    """The first line names the same columns as gobgpd's, in the same order;
    widths follow the longest value, so only the names and order are compared,
    and for fixed-width tables (RIB views) the exact line."""
    first = out.split("\n")[0]
    expect(first.split() == reference.split(),
           f"{what}: header {first!r} does not have the columns of gobgpd's {reference!r}")
    return first


def rows(out):
    return [line for line in out.strip().split("\n")[1:] if line.strip()]


def age_ok(path):
    """Path age is an absolute time: the CLI shows it as seconds since epoch in -j."""
    return abs(time.time() - path["age"]) < 600


def attr(path, t):
    return next((a for a in path["attrs"] or [] if a["type"] == t), None)


def check_global(cli, heads):
    out = cli("global")
    lines = out.strip().split("\n")
    expect(lines[0].split() == ["AS:", str(NODE_ASN)], f"global: {lines[0]!r}")
    expect(lines[1].split() == ["Router-ID:", NODE_V4], f"global: {lines[1]!r}")
    expect(lines[2].startswith("Listening Port: 179, Addresses: "), f"global: {lines[2:]!r}")
    expect(lines[0][:11] == heads["global"][:11], f"global: {lines[0]!r} is not laid out as gobgpd's {heads['global']!r}")
    g = cli.json("global")
    expect(g["asn"] == NODE_ASN and g["router_id"] == NODE_V4 and g["listen_port"] == 179, f"global -j: {g}")


def check_global_rib(cli, heads):
    for fam, own, nh in (([], OWN_V4, "0.0.0.0"), (["-a", "ipv6"], OWN_V6, "::")):
        out = cli("global", "rib", *fam)
        if fam:  # IPv6 prefixes may widen the columns: compare names and order
            same_columns(out, heads["global rib"], "global rib -a ipv6")
        else:
            expect(out.split("\n")[0] == heads["global rib"], f"global rib: header {out.splitlines()[0]!r}")
        expect(sorted(r.split()[1] for r in rows(out)) == sorted(own), f"global rib {fam}: rows {rows(out)}")
        expect(all(r.startswith("*>") for r in rows(out)), "global rib: every own route is best")
        rib = cli.json("global", "rib", *fam)
        expect(sorted(rib) == sorted(own), f"global rib -j {fam}: {sorted(rib)}")
        for prefix, paths in rib.items():
            p = paths[0]
            expect(p["best"] and age_ok(p), f"{prefix}: best / age: {p}")
            hop = attr(p, 3) or attr(p, 14)
            expect(hop and hop["nexthop"] == nh, f"{prefix}: next hop {hop}")
            expect(attr(p, 1)["value"] == 0, f"{prefix}: origin IGP")
    first = cli.json("global", "rib", OWN_V4[0])[OWN_V4[0]][0]
    expect(attr(first, 4)["metric"] == 50, f"MED of {OWN_V4[0]}: {first}")
    expect(attr(first, 8)["communities"] == [65001 << 16 | 100], f"communities of {OWN_V4[0]}: {first}")


def check_lookups(cli):
    def listed(*args):
        return sorted(cli.json("global", "rib", *args))
    expect(listed("198.51.100.11") == ["198.51.100.11/32"], "exact host lookup")
    expect(listed("198.51.100.70") == ["198.51.100.64/26"], "bare address: longest match")
    expect(listed("198.51.100.64/26") == ["198.51.100.64/26"], "exact CIDR lookup")
    expect(listed("198.51.100.0/24", "longer-prefixes") == sorted(OWN_V4), "longer-prefixes")
    expect(listed("198.51.100.70/32", "shorter-prefixes") == ["198.51.100.64/26"], "shorter-prefixes")
    expect(listed("-a", "ipv6", "2001:db8:100::/40", "longer-prefixes") == sorted(OWN_V6), "IPv6 longer-prefixes")
    out = cli("global", "rib", "198.51.100.11/32")
    expect(rows(out)[0].split()[1] == "198.51.100.11/32", f"text lookup: {out}")
    out = cli("global", "rib", "192.0.2.99/32")
    expect("Network not in table" in out, f"missing prefix: {out}")


def check_summary(cli, heads):
    out = cli("global", "rib", "summary")
    lines = out.strip().split("\n")
    expect(lines[0] == heads["global rib summary"], f"summary: {lines[0]!r} != {heads['global rib summary']!r}")
    expect(lines[1] == f"Destination: {len(OWN_V4)}, Path: {len(OWN_V4)}", f"summary: {lines[1]!r}")
    s = cli.json("global", "rib", "summary", "-a", "ipv6")
    expect(s == {"num_destination": len(OWN_V6), "num_path": len(OWN_V6)}, f"summary -a ipv6 -j: {s}")


def check_neighbors(cli, heads):
    out = cli("neighbor")
    same_columns(out, heads["neighbor"], "neighbor")
    row = rows(out)[0].replace("|", " ").split()
    expect(row[0] == ROUTER_V4 and row[1] == str(ROUTER_ASN) and row[3] == "Establ", f"neighbor row {row}")
    received = len(BIRD_V4) + len(BIRD_V6)
    expect(row[4] == str(received) and row[5] == str(received), f"neighbor #Received/Accepted {row}")
    expect(re.fullmatch(r"\d\d:\d\d:\d\d", row[2]), f"neighbor Up/Down {row[2]}")
    peers = cli.json("neighbor")
    expect(len(peers) == 1, f"neighbor -j: {len(peers)} peers")
    p = peers[0]
    expect(p["state"]["session_state"] == 6 and p["conf"]["peer_asn"] == ROUTER_ASN, f"neighbor -j state {p['state']}")
    expect(abs(time.time() - p["timers"]["state"]["uptime"]["seconds"]) < 600, "uptime is an absolute time")
    counts = {(a["state"]["family"]["afi"]): a["state"] for a in p["afi_safis"]}
    expect(counts[1].get("received") == len(BIRD_V4) and counts[2].get("received") == len(BIRD_V6),
           f"received per family {counts}")
    expect(counts[1].get("advertised") == len(OWN_V4) and counts[2].get("advertised") == len(OWN_V6),
           f"advertised per family {counts}")

    out = cli("neighbor", ROUTER_V4)
    text = out.split("\n")
    expect(text[0] == f"BGP neighbor is {ROUTER_V4}, remote AS {ROUTER_ASN}", f"neighbor ADDR: {text[0]!r}")
    expect(f"remote router ID {ROUTER_V4}" in text[1], f"neighbor ADDR: {text[1]!r}")
    expect(text[2].startswith("  BGP state = ESTABLISHED, up for "), f"neighbor ADDR: {text[2]!r}")
    for line in heads["neighbor ADDR"].split(";"):
        expect(line in text, f"neighbor ADDR lacks gobgpd's line {line!r}")
    for cap in ("multiprotocol:", "route-refresh:", "4-octet-as:", "graceful-restart:"):
        expect(any(cap in t for t in text), f"neighbor ADDR: capability {cap} not shown")
    expect(re.search(r"Advertised:\s+" + str(len(OWN_V4) + len(OWN_V6)), out), "neighbor ADDR: Advertised count")
    detail = cli.json("neighbor", ROUTER_V4)
    expect(detail["state"]["router_id"] == ROUTER_V4, f"neighbor ADDR -j router id {detail['state']}")
    expect(detail["state"]["messages"]["received"]["update"] >= 1, "neighbor ADDR -j update counter")
    expect(detail["transport"]["local_address"] == NODE_V4, f"local address {detail['transport']}")
    expect(cli("neighbor", "-q").split() == [ROUTER_V4], "neighbor -q lists the address")
    out = cli("neighbor", "192.0.2.55", rc=1)
    expect("not found neighbor" in out, f"unknown neighbor: {out}")


def check_adj(cli, heads):
    out = cli("neighbor", ROUTER_V4, "adj-out")
    expect(out.split("\n")[0] == heads["adj-out"], f"adj-out header {out.splitlines()[0]!r}")
    for r in rows(out):
        cols = r.split()
        expect(cols[2] == NODE_V4 and cols[3] == str(NODE_ASN), f"adj-out row as sent: {cols}")
    for fam, own, nh in (([], OWN_V4, NODE_V4), (["-a", "ipv6"], OWN_V6, NODE_V6)):
        adj = cli.json("neighbor", ROUTER_V4, "adj-out", *fam)
        expect(sorted(adj) == sorted(own), f"adj-out -j {fam}: {sorted(adj)}")
        for prefix, paths in adj.items():
            hop = attr(paths[0], 3) or attr(paths[0], 14)
            expect(hop["nexthop"] == nh, f"adj-out {prefix}: next hop {hop}")
            expect(attr(paths[0], 2)["as_paths"][0]["asns"] == [NODE_ASN], f"adj-out {prefix}: AS_PATH")
    out = cli("neighbor", ROUTER_V4, "adj-in")
    expect(out.split("\n")[0] == heads["adj-in"], f"adj-in header {out.splitlines()[0]!r}")
    expect(sorted(r.split()[1] for r in rows(out)) == sorted(BIRD_V4), f"adj-in rows {rows(out)}")
    for fam, theirs in (([], BIRD_V4), (["-a", "ipv6"], BIRD_V6)):
        adj = cli.json("neighbor", ROUTER_V4, "adj-in", *fam)
        expect(sorted(adj) == sorted(theirs), f"adj-in -j {fam}: {sorted(adj)}")
        for prefix, paths in adj.items():
            p = paths[0]
            expect(attr(p, 2)["as_paths"][0]["asns"] == [ROUTER_ASN], f"adj-in {prefix}: AS_PATH {p}")
            expect(age_ok(p) and p.get("neighbor-ip") == ROUTER_V4, f"adj-in {prefix}: age / neighbor {p}")
    one = cli.json("neighbor", ROUTER_V4, "adj-in", BIRD_V4[0])
    expect(sorted(one) == [BIRD_V4[0]], f"adj-in lookup: {sorted(one)}")
    out = cli("neighbor", ROUTER_V4, "adj-in", "summary")
    expect(out.strip().split("\n")[1] == f"Destination: {len(BIRD_V4)}, Path: {len(BIRD_V4)}", f"adj-in summary {out}")


def check_unsupported(cli):
    out = cli("vrf", rc=1)
    expect("code = Unimplemented" in out and "Herald does not support" in out, f"vrf: {out}")
    out = cli("neighbor", ROUTER_V4, "local", rc=1)
    expect("rpc error" in out, f"local: {out}")
    out = cli("global", "rib", "add", ADDED_V4, "aspath", "65100", rc=1)
    expect("InvalidArgument" in out and "AS_PATH" in out, f"add with aspath: {out}")


def check_soft_reset(cli, router):
    before = router.updates(NODE_V4)
    cli("neighbor", ROUTER_V4, "softresetout")
    poll("BIRD receives the routes again after softresetout",
         lambda: router.updates(NODE_V4) >= before + len(OWN_V4) + len(OWN_V6), 15)
    log(f"     BIRD import updates from the speaker: {before} -> {router.updates(NODE_V4)}")
    refresh = cli.json("neighbor", ROUTER_V4)["state"]["messages"]["sent"].get("refresh", 0)
    cli("neighbor", ROUTER_V4, "softresetin")
    poll("a ROUTE-REFRESH counted as sent after softresetin",
         lambda: cli.json("neighbor", ROUTER_V4)["state"]["messages"]["sent"].get("refresh", 0) > refresh, 10)
    poll("adj-in full again after BIRD re-sent it",
         lambda: sorted(cli.json("neighbor", ROUTER_V4, "adj-in")) == sorted(BIRD_V4), 10)


def check_shutdown_enable(cli, router, heads):
    out = cli("neighbor", ROUTER_V4, "shutdown")
    expect("deprecated" in out, f"shutdown prints the CLI's warning: {out}")
    poll("BIRD sees the session down after shutdown", lambda: not router.established(NODE_V4), 15)
    out = cli("neighbor")
    same_columns(out, heads["neighbor"], "neighbor after shutdown")
    expect("Idle(Admin)" in rows(out)[0], f"neighbor after shutdown: {rows(out)}")
    expect(cli.json("neighbor")[0]["state"].get("admin_state") == 1, "admin state DOWN")
    holds_for("the session stays down until enabled", lambda: not router.established(NODE_V4), 3)
    out = cli("neighbor", ROUTER_V4, "adj-in", rc=1)
    expect("not established" in out, f"adj-in of a down peer: {out}")
    cli("neighbor", ROUTER_V4, "enable")
    poll("BIRD sees the session up after enable", lambda: router.established(NODE_V4), 30)
    poll("the CLI shows Establ after enable", lambda: "Establ" in cli("neighbor"), 15)
    flops = cli.json("neighbor", ROUTER_V4)["state"].get("flops", 0)
    expect(flops >= 1, f"flops after shutdown: {flops}")
    poll("routes back at BIRD", lambda: router.route(OWN_V4[0]) is not None, 15)
    # Counts start again from zero after the session went down (no stale or wrapped counts).
    poll("advertised counts as before the shutdown", lambda: {
        a["state"]["family"]["afi"]: a["state"].get("advertised", 0)
        for a in cli.json("neighbor", ROUTER_V4)["afi_safis"]} == {1: len(OWN_V4), 2: len(OWN_V6)}, 15)


def check_reset_disable(cli, router):
    flops = cli.json("neighbor", ROUTER_V4)["state"].get("flops", 0)
    cli("neighbor", ROUTER_V4, "reset", "--reason", "grpc suite")
    poll("the session flapped after a hard reset",
         lambda: cli.json("neighbor", ROUTER_V4)["state"].get("flops", 0) > flops, 15)
    poll("BIRD sees the session up again after reset", lambda: router.established(NODE_V4), 30)
    cli("neighbor", ROUTER_V4, "disable")
    poll("BIRD sees the session down after disable", lambda: not router.established(NODE_V4), 15)
    expect("Idle(Admin)" in cli("neighbor"), "disable shows Idle(Admin)")
    cli("neighbor", ROUTER_V4, "enable")
    poll("BIRD sees the session up after enable", lambda: router.established(NODE_V4), 30)


def check_add_del(cli, router):
    cli("global", "rib", "add", ADDED_V4, "community", "65001:7", "med", "9")
    poll(f"BIRD receives the added {ADDED_V4}", lambda: router.route(ADDED_V4) is not None, 15)
    r = router.route(ADDED_V4)
    expect(r.communities == {"65001:7"} and r.med == 9 and r.next_hops == {NODE_V4}, f"added route at BIRD: {r}")
    listed = cli.json("global", "rib", ADDED_V4)
    expect(sorted(listed) == [ADDED_V4], f"added route listed: {listed}")
    cli("global", "rib", "-a", "ipv6", "add", ADDED_V6)
    poll(f"BIRD receives the added {ADDED_V6}", lambda: router.route(ADDED_V6) is not None, 15)
    expect(router.route(ADDED_V6).next_hops == {NODE_V6}, f"added IPv6 route: {router.route(ADDED_V6)}")
    out = cli("global", "rib", "summary")
    expect(f"Destination: {len(OWN_V4) + 1}," in out, f"summary with the added route: {out}")
    cli("global", "rib", "del", ADDED_V4)
    poll(f"BIRD loses {ADDED_V4} after del", lambda: router.route(ADDED_V4) is None, 15)
    cli("global", "rib", "-a", "ipv6", "del", "all")
    poll(f"BIRD loses {ADDED_V6} after del all", lambda: router.route(ADDED_V6) is None, 15)
    expect(router.route(OWN_V6[0]) is not None, "del all keeps the speaker's own routes")
    out = cli("global", "rib", "del", ADDED_V4, rc=1)
    expect("NotFound" in out, f"deleting a route twice: {out}")


def main():
    L.require_root_and_tools(["bird", "birdc", "gobgp"])
    if speaker_kind() != "herald":
        L.skip("suite grpc tests Herald's own API (HERALD_INTEROP_SPEAKER=herald)")
    require_speaker()
    heads = reference_headers()
    with L.Lab("grpc") as lab:
        rns, nns = lab.netns("r"), lab.netns("n0")
        lab.veth(rns, "n0", nns, "eth0")
        for ns, ifname, v4, v6 in ((rns, "n0", ROUTER_V4, ROUTER_V6), (nns, "eth0", NODE_V4, NODE_V6)):
            lab.addr(ns, ifname, f"{v4}/24")
            lab.addr(ns, ifname, f"{v6}/64")
        lab.wait_reachable(nns, ROUTER_V4)
        lab.wait_reachable(nns, ROUTER_V6)
        router = BirdSending(lab, rns, [Neighbor(NODE_V4, NODE_ASN)])
        router.start()
        routes = [{"prefix": OWN_V4[0], "communities": ["65001:100"], "med": 50}]
        routes += [{"prefix": p} for p in OWN_V4[1:] + OWN_V6]
        config = {"router_id": NODE_V4, "local_asn": NODE_ASN, "hostname": "node-0",
                  "listen": {"address": NODE_V4, "port": 179},
                  "peers": [{"address": ROUTER_V4, "asn": ROUTER_ASN, "connect_retry": 1,
                             "next_hop_v4": NODE_V4, "next_hop_v6": NODE_V6}],
                  "routes": routes}
        speaker = make_speaker(lab, nns, "speaker", config)
        speaker.start()
        cli = Cli(nns)
        ok = False
        try:
            poll("the gRPC API answers", lambda: subprocess.run(
                ["ip", "netns", "exec", nns, "gobgp", "global"], capture_output=True).returncode == 0, 15)
            router.wait_established([NODE_V4], 30)
            poll("BIRD has the speaker's routes", lambda: all(router.route(p) for p in OWN_V4 + OWN_V6), 20)
            poll("the speaker has BIRD's routes",
                 lambda: len(cli.json("neighbor", ROUTER_V4, "adj-in")) == len(BIRD_V4), 20)
            check_global(cli, heads)
            check_global_rib(cli, heads)
            check_lookups(cli)
            check_summary(cli, heads)
            check_neighbors(cli, heads)
            check_adj(cli, heads)
            check_unsupported(cli)
            check_soft_reset(cli, router)
            check_add_del(cli, router)
            check_shutdown_enable(cli, router, heads)
            check_reset_disable(cli, router)
            ok = True
        finally:
            if not ok:
                log_tail(speaker, 60)
        log(f"PASS: {cli.ran} gobgp commands, none crashed")


if __name__ == "__main__":
    L.run_main(main)
