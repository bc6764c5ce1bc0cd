#!/usr/bin/env python3
# Benchmark 1b of issue 11 (BENCHMARKS.md "Convergence and withdraw"): the
# node's part of convergence alone, Herald side by side with the PureLB-style
# pipeline, on the same router in the same run.
#   Herald: the e2e cluster without the allocator (three herald-agents, a
#     BIRD or FRR router with ECMP into its kernel). Each Service is created
#     with the allocator's annotations but no address; then its status (the
#     address) is written, on a kept-open connection, so the agents receive
#     the allocated status as from the allocator; the end is the
#     `ip -o monitor route` event of the route with all three next hops.
#     Starts: the status written (the API server's part included); the
#     first watch event carrying the address on the wire from the API server
#     to an agent (a packet socket in the API server's namespace; no
#     instrumentation in Herald); and, the issue's figure, each node's own:
#     the watch event on the wire to that node's agent, ending when that
#     node's next hop is in the route, the slowest node counting. The API
#     server sends the event to the three agents one after another, on the
#     same two vCPUs as the nodes (on this machine the third frame leaves
#     ~0.45 ms after the first, the API server waiting while the first agent
#     runs): that fan-out is the API server's part, not a node's.
#   PureLB-style: the agents stopped, a BIRD on each node with a `direct`
#     protocol on kube-lb0 exported by BGP to the same router (what PureLB
#     does with BIRD); each node's start just before the address is added to
#     its kube-lb0 (a line to each node's running `ip -batch -`, as three
#     node agents would add it at once), the same end: that node's next hop
#     in the route, the slowest node counting.
#   Both pipelines meet each measured address after the same quiet spell
#   (QUIET, 50 ms): Herald must, as its agents first see the Service without
#   an address. Idle vCPUs come back to cold caches on this machine, which
#   costs either pipeline several times its back-to-back time, so the
#   comparison is made under the same condition. The PureLB-style pipeline
#   is then run once more back to back (the addresses removed and added
#   again, the next one as soon as the last is in the FIB), the condition of
#   the tables before 2026-12-02, for reference.
#
#   Diagnostic rows cut each node's time where its UPDATE reaches the router
#   (a second packet socket, in the router's namespace, on BGP's port; the
#   first frame carrying the address's NLRI from that node): the node's
#   software (with its share of the two vCPUs) and the router's part, every
#   node's sample counted, not only the slowest. Both pipelines' UPDATEs are
#   byte for byte the same (ORIGIN, AS_PATH, NEXT_HOP, the /32), so the
#   router's part does the same work on either side. The log adds their
#   medians by the order the nodes started.
#
#   python3 bench_node_part.py ROUTER [COUNT [NODES]]
#       ROUTER: bird frr; COUNT 50; NODES 3 (1-3: how many nodes run the
#       pipelines, the rest stay idle; the issue's figure is 3; fewer show
#       how much of each side's time is the nodes sharing two vCPUs)
#
# One more Service first in each pipeline warms it up and is not counted.
# Prints p50, p99 (nearest rank) and max of each and the ratio of Herald's
# node part (agents received → FIB) to the PureLB-style pipeline.
# Exit: 0 done, 1 failure, 77 skip (1 under CI=true).
import ctypes
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time
import urllib.parse

import bench_convergence as bc
import e2e
from lab import log, poll

ANNOTATIONS = {"herald.dev/allocated-by": "herald", "herald.dev/allocated-from": "default",
               "herald.dev/pool-type": "remote"}
SO_ATTACH_FILTER, SO_TIMESTAMPNS = 26, 35  # <asm-generic/socket.h>
HERALD_BASE, PURELB_BASE = 100, 180  # 203.0.113.X for the two pipelines' addresses
QUIET = 0.05  # s of nothing to do before each measured address, in both pipelines
SERVICES = "/api/v1/namespaces/default/services"


def _bpf(prog):
    return b"".join(struct.pack("HBBI", *ins) for ins in prog), len(prog)


def _tcp_src_port_filter(port):
    """Classic BPF for Ethernet frames of IPv4 TCP from `port` (what
    `tcpdump -dd "tcp src port N"` prints; tcpdump is not installed here)."""
    return _bpf([(0x28, 0, 0, 12), (0x15, 0, 8, 0x0800),  # ethertype IPv4, else drop
                 (0x30, 0, 0, 23), (0x15, 0, 6, 6),  # protocol TCP, else drop
                 (0x28, 0, 0, 20), (0x45, 4, 0, 0x1FFF),  # not a later fragment, else drop
                 (0xB1, 0, 0, 14), (0x48, 0, 0, 14),  # x = IP header length; the source port
                 (0x15, 0, 1, port), (0x06, 0, 0, 0x40000), (0x06, 0, 0, 0)])


def _tcp_port_filter(port):
    """The same for IPv4 TCP from or to `port` ("tcp port N")."""
    return _bpf([(0x28, 0, 0, 12), (0x15, 0, 10, 0x0800),  # ethertype IPv4, else drop
                 (0x30, 0, 0, 23), (0x15, 0, 8, 6),  # protocol TCP, else drop
                 (0x28, 0, 0, 20), (0x45, 6, 0, 0x1FFF),  # not a later fragment, else drop
                 (0xB1, 0, 0, 14), (0x48, 0, 0, 14),  # x = IP header length; the source port
                 (0x15, 2, 0, port), (0x48, 0, 0, 16),  # accept, else the destination port
                 (0x15, 0, 1, port), (0x06, 0, 0, 0x40000), (0x06, 0, 0, 0)])


class WireLog:
    """A packet socket in a namespace, BPF-filtered: the kernel's timestamp
    of the first frame carrying each key (an address) from or to each node.
    The frames wait in the socket, stamped by the kernel as they pass, and
    are read only after the route is in the FIB: a reader woken by each
    frame would run on the two vCPUs beside the nodes it measures. Kernel
    stamps are wall-clock, converted with an offset taken at start (seconds
    apart: no drift worth a microsecond). keys(payload) lists the addresses
    a frame carries; node(ip header) names the node; skip(tcp header) drops
    a frame."""

    def __init__(self, ns, bpf, keys, node, skip=lambda tcp: False):
        self.keys, self.node, self.skip = keys, node, skip
        self.first = {}  # address -> {node IP: time of the first frame carrying it}
        self.offset = time.time() - time.monotonic()
        self.sock = bc.made_in(ns, lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                                         socket.htons(0x0003)))  # ETH_P_ALL
        code, n = bpf
        buf = ctypes.create_string_buffer(code)
        fprog = struct.pack("HL", n, ctypes.addressof(buf))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.setblocking(False)

    def drain(self):
        """Reads the frames queued so far."""
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(65536, 64)
            except BlockingIOError:
                return
            stamp = next((struct.unpack("qq", d[:16]) for lvl, typ, d in anc
                          if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS), None)
            if stamp is None or len(data) < 38:
                continue
            ihl = (data[14] & 0x0F) * 4
            tcp = data[14 + ihl:]
            if self.skip(tcp):
                continue
            t = stamp[0] + stamp[1] / 1e9 - self.offset
            node = self.node(data[14:14 + ihl])
            for key in self.keys(tcp[(tcp[12] >> 4) * 4:]):
                self.first.setdefault(key, {}).setdefault(node, t)

    def seen(self, ip, nodes, what):
        """When each of `nodes` (IPs) first had a frame carrying ip: {node
        IP: monotonic seconds}; called once the route is in the FIB, so the
        frames have passed. Later frames do not replace the first."""
        self.drain()
        seen = self.first.get(ip, {})
        missing = [n for n in nodes if n not in seen]
        if missing:
            raise AssertionError(f"no {what} carrying {ip} captured for {', '.join(missing)}")
        return {n: seen[n] for n in nodes}

    def close(self):
        self.sock.close()


def watch_delivery(c, conn):
    """The API server's frames to the agents (not to this benchmark's own
    connection) in its namespace, keyed by the addresses in their status
    ("ip":"..."), per destination node: when each agent was sent a
    Service's status. No instrumentation in Herald."""
    own = conn.sock.getsockname()[1]
    return WireLog(c.rns, _tcp_src_port_filter(urllib.parse.urlsplit(c.url).port),
                   lambda payload: [p.split(b'"', 1)[0].decode("latin-1") for p in payload.split(b'"ip":"')[1:]],
                   lambda iph: socket.inet_ntoa(iph[16:20]),
                   lambda tcp: struct.unpack("!H", tcp[2:4])[0] == own)


def bgp_updates(c):
    """BGP frames from the nodes as the router receives them (its
    namespace), keyed by the 203.0.113.X/32 NLRI they carry (an octet of
    length 32, then the address), per source node: when each node's UPDATE
    reached the router. Splits each side's time into the node's part and
    the router's (diagnostic)."""
    prefix = b"\x20\xcb\x00\x71"  # /32, 203.0.113.

    def keys(payload):
        found, at = [], payload.find(prefix)
        while 0 <= at and at + 5 <= len(payload):
            found.append(f"203.0.113.{payload[at + 4]}")
            at = payload.find(prefix, at + 1)
        return found
    return WireLog(c.rns, _tcp_port_filter(179), keys, lambda iph: socket.inet_ntoa(iph[12:16]))


def next_hops_in(monitor, ip, hops, since, timeout=30):
    """{next hop: when it first showed in ip's route}, from `since` until the
    route holds all of `hops` (the router's `ip -o monitor route` events)."""
    seen = {}
    end = time.monotonic() + timeout
    while not hops <= seen.keys():
        t, prefix, via, deleted = monitor.events.get(timeout=max(0.01, end - time.monotonic()))
        if t >= since and prefix == ip and not deleted:
            for h in via:
                seen.setdefault(h, t)
    return seen


def slowest_node_ms(starts, seen):
    """Each node's start → its next hop in the route; the slowest (ms)."""
    return max(seen[n] - t for n, t in starts.items()) * 1e3


class Split:
    """Each node's time cut where its UPDATE reaches the router (diagnostic,
    every node's sample counted): start → UPDATE (the node's software and
    its share of the vCPUs) and UPDATE → its next hop in the FIB (the
    router's part, the same router for both pipelines)."""

    def __init__(self):
        self.node, self.router = [], []
        self.by_order = []  # [k]: the k-th node to start: [(after the first, to UPDATE, to FIB)]

    def add(self, starts, updates, seen):
        first = min(starts.values())
        for k, (n, t) in enumerate(sorted(starts.items(), key=lambda item: item[1])):
            self.node.append((updates[n] - t) * 1e3)
            self.router.append((seen[n] - updates[n]) * 1e3)
            if k == len(self.by_order):
                self.by_order.append([])
            self.by_order[k].append(((t - first) * 1e3, self.node[-1], self.router[-1]))

    def order_line(self):
        """The medians by the order the nodes started (for the log)."""
        return "; ".join(f"node {k + 1}: start +{statistics.median(s[0] for s in v):.2f}, "
                         f"to UPDATE {statistics.median(s[1] for s in v):.2f}, "
                         f"to FIB {statistics.median(s[2] for s in v):.2f}"
                         for k, v in enumerate(self.by_order))


def herald_part(c, nodes, monitor, conn, updates, count):
    """Per counted Service (ms): status written → FIB, the first agent
    received → FIB, each node's agent received → its next hop (slowest);
    and the Split of each node's part."""
    node_ips = {e2e.node_ip(n["i"]) for n in nodes}
    delivery = watch_delivery(c, conn)
    written, received, per_node, split = [], [], [], Split()
    for i in range(count + 1):
        ip = f"203.0.113.{HERALD_BASE + i}"
        name = f"node-part-{i}"
        bc.request(conn, "POST", SERVICES, json.dumps(e2e.web_service(name, annotations=ANNOTATIONS)), want=201)
        time.sleep(QUIET)  # the agents have seen the Service without an address, and are idle
        status = json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
        delivery.drain()
        t0 = time.monotonic()
        # The reply is read after the route is in: this benchmark parsing it
        # would take a vCPU from the agents inside the window it measures.
        conn.request("PATCH", f"{SERVICES}/{name}/status", status,
                     {"Content-Type": "application/merge-patch+json"})
        seen = next_hops_in(monitor, ip, node_ips, t0)
        t = max(seen.values())
        reply = conn.getresponse()
        text = reply.read()
        if reply.status != 200:
            raise AssertionError(f"PATCH {name}/status: HTTP {reply.status}: {text[:300]}")
        starts = delivery.seen(ip, node_ips, "watch event")
        written.append((t - t0) * 1e3)
        received.append((t - min(starts.values())) * 1e3)
        per_node.append(slowest_node_ms(starts, seen))
        if i > 0:
            split.add(starts, updates.seen(ip, node_ips, "UPDATE"), seen)
    delivery.close()
    return written[1:], received[1:], per_node[1:], split


def node_bird_config(c, n):
    """A BIRD on node n as PureLB runs it: kube-lb0's addresses (direct)
    exported by BGP to the router, next hop self (eBGP)."""
    ip = e2e.node_ip(n["i"])
    return (f"router id {ip};\nprotocol device {{ scan time 1; }}\n"
            f"protocol direct lb {{ ipv4; interface \"kube-lb0\"; }}\n"
            f"protocol bgp uplink {{ local {ip} as {e2e.NODE_ASN}; neighbor {e2e.ROUTER_V4} as {e2e.ROUTER_ASN};"
            f" connect retry time 1; ipv4 {{ import none; export where proto = \"lb\"; }}; }}\n")


def purelb_part(c, nodes, monitor, updates, count):
    """Per counted address (ms), each node's add → its next hop (slowest):
    after QUIET each (with its Split), then back to back."""
    for n in nodes:
        n["agent"].stop()
    for n in nodes:
        d = c.lab.path(f"purelb-{n['name']}")
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/bird.conf", "w") as f:
            f.write(node_bird_config(c, n))
        c.lab.start(f"bird-{n['name']}", n["ns"], ["bird", "-f", "-c", f"{d}/bird.conf", "-s", f"{d}/ctl"])
        e2e.L.run("ip", "link", "set", "kube-lb0", "up", ns=n["ns"])
    c.router.wait_established([e2e.node_ip(n["i"]) for n in nodes], timeout=60)
    # One `ip -batch -` per node, started beforehand and fed a line per
    # address: no process start inside the timing, as the HTTP request on a
    # kept-open connection for Herald.
    adders = [subprocess.Popen(["ip", "-n", n["ns"], "-batch", "-"], stdin=subprocess.PIPE, text=True)
              for n in nodes]
    addresses = [f"203.0.113.{PURELB_BASE + i}" for i in range(count + 1)]

    node_ips = [e2e.node_ip(n["i"]) for n in nodes]

    def to_every_node(line):
        """{node IP: when its line was written}."""
        starts = {}
        for n, a in zip(node_ips, adders):
            starts[n] = time.monotonic()
            a.stdin.write(line + "\n")
            a.stdin.flush()
        return starts

    def series(quiet, split=None):
        times = []
        for i, ip in enumerate(addresses):
            time.sleep(quiet)
            starts = to_every_node(f"address add {ip}/32 dev kube-lb0")
            seen = next_hops_in(monitor, ip, set(node_ips), min(starts.values()))
            times.append(slowest_node_ms(starts, seen))
            if split and i > 0:  # the log keeps first frames: only the first series' adds
                split.add(starts, updates.seen(ip, node_ips, "UPDATE"), seen)
        return times[1:]

    split = Split()
    try:
        after_quiet = series(QUIET, split)
        for ip in addresses:
            t0 = time.monotonic()
            to_every_node(f"address del {ip}/32 dev kube-lb0")
            monitor.wait_for(lambda p, h, deleted: p == ip and deleted, 30, since=t0)
        back_to_back = series(0)
    finally:
        for a in adders:
            a.stdin.close()
            a.wait(5)
    return after_quiet, back_to_back, split


def bench(c, argv):
    count = int(argv[2]) if len(argv) > 2 else 50
    if count < 1 or count > 60:
        raise AssertionError("COUNT: 1 to 60 (the addresses of 203.0.113.0/24 the two pipelines use)")
    n_nodes = int(argv[3]) if len(argv) > 3 else len(c.nodes)
    if not 1 <= n_nodes <= len(c.nodes):
        raise AssertionError(f"NODES: 1 to {len(c.nodes)}")
    nodes = c.nodes[:n_nodes]
    e2e.setup_objects(c)
    c.router.start()
    for n in nodes:
        c.start_agent(n)
    c.router.wait_established([e2e.node_ip(n["i"]) for n in nodes], timeout=60)
    poll("the agents ready", lambda: all(n["agent"].alive() for n in nodes), 5)
    monitor, conn = bc.RouteMonitor(c.rns), bc.connect_in(c.rns, c.url)
    updates = bgp_updates(c)
    try:
        written, first_received, herald, herald_split = herald_part(c, nodes, monitor, conn, updates, count)
        log(f"Herald samples, each node's agent received → its next hop, slowest node (ms, sorted): "
            f"{' '.join(f'{t:.1f}' for t in sorted(herald))}; now the PureLB-style pipeline")
        purelb, purelb_hot, purelb_split = purelb_part(c, nodes, monitor, updates, count)
        log(f"PureLB-style samples (ms, sorted): {' '.join(f'{t:.1f}' for t in sorted(purelb))}; "
            f"back to back: {' '.join(f'{t:.1f}' for t in sorted(purelb_hot))}")
    finally:
        monitor.close()
        updates.close()
    for who, split in (("Herald", herald_split), ("PureLB-style", purelb_split)):
        log(f"{who}, p50 ms by the order the nodes started: {split.order_line()}")
    print(f"command: sudo python3 tests/e2e/bench_node_part.py {' '.join(argv[1:])}")
    hops = ("all three next hops" if n_nodes == len(c.nodes)
            else f"{n_nodes} of the {len(c.nodes)} nodes as next hops (the others idle)")
    print(f"router: {argv[1]}; the node's part: address given → {hops} in the router's kernel "
          f"FIB; {count} addresses each, one after another, each after {QUIET * 1e3:.0f} ms with nothing to do")
    print("| pipeline | p50 (ms) | p99 (ms) | max (ms) |")
    print("|---|---:|---:|---:|")
    w, f, h, p, hot = (bc.percentiles(x) for x in (written, first_received, herald, purelb, purelb_hot))
    print("| Herald: status written → all next hops (the API server's part included) | {:.1f} | {:.1f} | {:.1f} |"
          .format(*w))
    print("| Herald: the first agent received the status → all next hops (the API server's fan-out to the other "
          "agents included) | {:.1f} | {:.1f} | {:.1f} |".format(*f))
    print("| **Herald: each node's agent received the status → its next hop, slowest node** | {:.1f} | {:.1f} | "
          "{:.1f} |".format(*h))
    print("| **PureLB-style: each node's address on kube-lb0, BIRD `direct` → its next hop, slowest node** | "
          "{:.1f} | {:.1f} | {:.1f} |".format(*p))
    # One decimal, but two significant digits under 0.1: a PureLB-style
    # outlier of 27.7 ms against Herald's 1.1 printed as 0.0×.
    print("| Herald / PureLB-style (the two rows in bold) | {}× | {}× | {}× |"
          .format(*(f"{a / b:.1f}" if a / b >= 0.1 else f"{a / b:.2g}" for a, b in zip(h, p))))
    print("| PureLB-style back to back, no quiet spell (for reference, not compared) | {:.1f} | {:.1f} | {:.1f} |"
          .format(*hot))
    for who, split in (("Herald", herald_split), ("PureLB-style", purelb_split)):
        start = "its agent received the status" if who == "Herald" else "its address written"
        print(f"| {who}, each node (diagnostic, {len(split.node)} samples): {start} → its UPDATE reached the router "
              "| {:.2f} | {:.2f} | {:.2f} |".format(*bc.percentiles(split.node)))
        print(f"| {who}, each node (diagnostic): its UPDATE reached the router → its next hop in the FIB "
              "| {:.2f} | {:.2f} | {:.2f} |".format(*bc.percentiles(split.router)))
    sys.stdout.flush()


if __name__ == "__main__":
    router_tools = e2e.TOOLS.get(sys.argv[1]) if len(sys.argv) > 1 else None
    sys.exit(e2e.run_cluster(sys.argv, "node-part", bench, usage_extra=" [COUNT [NODES]]",
                             tools=router_tools and router_tools + ["bird"]))
