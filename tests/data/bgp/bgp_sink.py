#!/usr/bin/env python3
"""Passive BGP sink for capture.sh.

Listens on one address (TCP 179), accepts a single session, answers the
speaker's OPEN with its own OPEN (AS 65000; capabilities: MP ipv4/ipv6
unicast, route refresh, 4-octet AS, graceful restart for both families),
sends KEEPALIVE, then End-of-RIB for IPv4 and IPv6 unicast, and keeps the
session up with KEEPALIVEs until the speaker closes it. It only logs what it
receives (one JSON object a line: OPEN, KEEPALIVE, UPDATE, End-of-RIB,
withdrawals, NOTIFICATION) so that capture.sh can poll for each phase; the
fixtures themselves come from tshark.

It writes "DONE" to the status file when the speaker has sent End-of-RIB for
both families (plus a short linger for stragglers), or when the speaker has
been quiet for --quiet seconds after at least one UPDATE. It exits by itself
after --max-seconds at the latest.
"""
import argparse
import ipaddress
import json
import select
import socket
import struct
import sys
import time

MARKER = b"\xff" * 16
TYPES = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}


def msg(mtype, body=b""):
    return MARKER + struct.pack("!HB", 19 + len(body), mtype) + body


def cap(code, value=b""):
    return struct.pack("!BB", code, len(value)) + value


def build_open(my_as, bgp_id, hold):
    caps = b"".join([
        cap(1, struct.pack("!HBB", 1, 0, 1)),          # MP ipv4 unicast
        cap(1, struct.pack("!HBB", 2, 0, 1)),          # MP ipv6 unicast
        cap(2),                                        # route refresh
        cap(65, struct.pack("!I", my_as)),             # 4-octet AS
        cap(64, struct.pack("!H", 120)                 # GR: no R flag, 120 s
            + struct.pack("!HBB", 1, 1, 0)
            + struct.pack("!HBB", 2, 1, 0)),
    ])
    params = struct.pack("!BB", 2, len(caps)) + caps
    two_byte_as = my_as if my_as < 65536 else 23456
    body = struct.pack("!BHH4sB", 4, two_byte_as, hold,
                       ipaddress.IPv4Address(bgp_id).packed, len(params)) + params
    return msg(1, body)


EOR_V4 = msg(2, b"\x00\x00\x00\x00")
# MP_UNREACH_NLRI (optional, type 15) with AFI 2 / SAFI 1 and no prefixes.
EOR_V6 = msg(2, b"\x00\x00\x00\x06" + bytes([0x80, 15, 3]) + struct.pack("!HB", 2, 1))


def classify_update(body):
    """Return 'eor-ipv4', 'eor-ipv6', 'withdraw-ipv4', 'withdraw-ipv6' or
    'update' (only what capture.sh polls for)."""
    if body == b"\x00\x00\x00\x00":
        return "eor-ipv4"
    wlen = struct.unpack("!H", body[0:2])[0]
    if wlen:
        return "withdraw-ipv4"
    alen = struct.unpack("!H", body[2 + wlen:4 + wlen])[0]
    attrs = body[4 + wlen:4 + wlen + alen]
    nlri = body[4 + wlen + alen:]
    if wlen == 0 and not nlri:
        i = 0
        only_unreach_empty = None
        while i < len(attrs):
            flags, code = attrs[i], attrs[i + 1]
            if flags & 0x10:
                ln = struct.unpack("!H", attrs[i + 2:i + 4])[0]
                val = attrs[i + 4:i + 4 + ln]
                i += 4 + ln
            else:
                ln = attrs[i + 2]
                val = attrs[i + 3:i + 3 + ln]
                i += 3 + ln
            if code == 15 and len(val) > 3 and not nlri:
                return "withdraw-ipv6" if val[:2] == b"\x00\x02" else "withdraw"
            if code == 15 and len(val) == 3 and only_unreach_empty is None:
                only_unreach_empty = val
            else:
                only_unreach_empty = b""
        if only_unreach_empty:
            afi, safi = struct.unpack("!HB", only_unreach_empty)
            if (afi, safi) == (2, 1):
                return "eor-ipv6"
            if (afi, safi) == (1, 1):
                return "eor-ipv4"
    return "update"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--as", dest="asn", type=int, default=65000)
    ap.add_argument("--id", default="192.0.2.2")
    ap.add_argument("--hold", type=int, default=90)
    ap.add_argument("--log", required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--quiet", type=float, default=8.0)
    ap.add_argument("--linger", type=float, default=2.0)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    a = ap.parse_args()

    logf = open(a.log, "a", buffering=1)

    def log(**kw):
        kw["t"] = round(time.monotonic(), 3)
        logf.write(json.dumps(kw) + "\n")

    def status(s):
        with open(a.status, "w") as f:
            f.write(s + "\n")

    fam = socket.AF_INET6 if ":" in a.listen else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.listen, 179))
    srv.listen(1)
    status("LISTENING")
    log(event="listening", addr=a.listen)

    deadline = time.monotonic() + a.max_seconds
    srv.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        conn, peer = srv.accept()
    except socket.timeout:
        log(event="no-connection")
        status("TIMEOUT")
        return 1
    log(event="accepted", peer=peer[0])
    buf = b""
    got_open = False
    sent_eor = False
    seen = set()
    updates = 0
    last_rx = time.monotonic()
    next_ka = None
    done_at = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if next_ka is not None and now >= next_ka:
            conn.sendall(msg(4))
            next_ka = now + 20
        if done_at is None:
            if {"eor-ipv4", "eor-ipv6"} <= seen:
                done_at = now + a.linger
            elif updates and now - last_rx >= a.quiet:
                done_at = now
        if done_at is not None and now >= done_at:
            log(event="done", seen=sorted(seen), updates=updates)
            status("DONE")
            # Keep the session up (tshark is stopped by capture.sh first).
            done_at = float("inf")
        r, _, _ = select.select([conn], [], [], 0.2)
        if not r:
            continue
        data = conn.recv(65535)
        if not data:
            log(event="closed")
            break
        buf += data
        last_rx = time.monotonic()
        while len(buf) >= 19:
            if buf[:16] != MARKER:
                log(event="bad-marker")
                status("ERROR")
                return 2
            ln, mtype = struct.unpack("!HB", buf[16:19])
            if len(buf) < ln:
                break
            m, buf = buf[:ln], buf[ln:]
            kind = TYPES.get(mtype, str(mtype))
            if mtype == 2:
                kind = classify_update(m[19:])
                if kind not in ("eor-ipv4", "eor-ipv6"):
                    updates += 1
                seen.add(kind)
            log(event="rx", type=kind, len=ln)
            if mtype == 1 and not got_open:
                got_open = True
                conn.sendall(build_open(a.asn, a.id, a.hold) + msg(4))
                next_ka = time.monotonic() + 20
            elif mtype == 4 and got_open and not sent_eor:
                sent_eor = True
                conn.sendall(EOR_V4 + EOR_V6)
            elif mtype == 3:
                log(event="notification", code=m[19], subcode=m[20] if ln > 20 else None)
    if done_at is None:
        status("TIMEOUT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
