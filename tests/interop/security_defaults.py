#!/usr/bin/env python3
# Suite `grpc` / `security` (issue 13, docs/reliability.md): the defaults that
# protect users, checked on the running herald-speaker.
#  1. Without --grpc, the gRPC API listens on 127.0.0.1 only (the listening
#     sockets in the speaker's namespace, from `ss`), and is not reachable on
#     the node's own address; with --grpc 0.0.0.0:PORT it listens there and
#     logs a warning that the API has no authentication.
#  2. The TCP MD5 password of a peer (RFC 2385; the session with BIRD really
#     uses it) appears nowhere the speaker writes: its log at debug level,
#     its status file, and every gobgp CLI view of the API (text and -j).
#
#   python3 security_defaults.py    exit 0 pass, 1 fail, 77 skip (1 under CI=true)
import json
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import log, poll  # noqa: E402
from peers import Bird, Neighbor  # noqa: E402
from speakers import herald_binary, log_tail, make_speaker, require_speaker, speaker_kind  # noqa: E402

ROUTER_V4, ROUTER_ASN = "192.0.2.1", 65000
NODE_V4, NODE_ASN = "192.0.2.11", 65001
PASSWORD = "Herald-MD5-k3y-7f3a9c"  # distinctive, so that any leak is found
DEFAULT_PORT, WIDE_PORT = 50051, 50052


def listening(ns, port):
    """Local addresses with a TCP socket listening on `port` in ns."""
    out = L.run("ss", "-Hltn", ns=ns)
    addrs = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[3].rsplit(":", 1)[-1] == str(port):
            a = f[3].rsplit(":", 1)[0].strip("[]")
            addrs.append(a.removeprefix("::ffff:"))  # gRPC binds v4 addresses on a v6 socket
    return addrs


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def connects(ns, host, port):
    r = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c",
                        f"import socket; socket.create_connection(({host!r}, {port}), 2)"],
                       capture_output=True)
    return r.returncode == 0


def gobgp(ns, *args, port=DEFAULT_PORT):
    r = subprocess.run(["ip", "netns", "exec", ns, "gobgp", "-p", str(port), *args],
                       capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    expect(r.returncode == 0, f"gobgp {' '.join(args)}: exit {r.returncode}: {out}")
    return out


def main():
    L.require_root_and_tools(["bird", "birdc", "gobgp", "ss"])
    if speaker_kind() != "herald":
        L.skip("security defaults are Herald's own (HERALD_INTEROP_SPEAKER=herald)")
    require_speaker()
    with L.Lab("secdef") as lab:
        rns, nns = lab.netns("r"), lab.netns("n0")
        lab.veth(rns, "n0", nns, "eth0")
        lab.addr(rns, "n0", f"{ROUTER_V4}/24")
        lab.addr(nns, "eth0", f"{NODE_V4}/24")
        lab.wait_reachable(nns, ROUTER_V4)
        router = Bird(lab, rns, [Neighbor(NODE_V4, NODE_ASN, password=PASSWORD)])
        router.start()
        config = {"router_id": NODE_V4, "local_asn": NODE_ASN,
                  "listen": {"address": NODE_V4, "port": 179},
                  "peers": [{"address": ROUTER_V4, "asn": ROUTER_ASN, "password": PASSWORD, "connect_retry": 1}],
                  "routes": [{"prefix": "203.0.113.0/24"}]}
        speaker = make_speaker(lab, nns, "speaker", config)
        speaker.start()
        ok = False
        try:
            router.wait_established([NODE_V4], 30)
            poll("the gRPC API answers", lambda: gobgp(nns, "global"), 15)

            # 1. loopback by default
            addrs = listening(nns, DEFAULT_PORT)
            expect(addrs and all(a in ("127.0.0.1", "::1") for a in addrs),
                   f"gRPC API listens on {addrs} by default, expected 127.0.0.1 only")
            expect(not connects(nns, NODE_V4, DEFAULT_PORT),
                   f"gRPC API reachable on the node address {NODE_V4}:{DEFAULT_PORT}")
            log(f"default: gRPC listens on {addrs} port {DEFAULT_PORT}; not on {NODE_V4}")

            # ... and where configured otherwise, with a warning.
            wide_cfg = lab.path("wide.json")
            with open(wide_cfg, "w") as f:
                json.dump({"router_id": "192.0.2.12", "local_asn": NODE_ASN, "peers": []}, f)
            wide = lab.start("wide", nns, [herald_binary(), "--config", wide_cfg, "--grpc", f"0.0.0.0:{WIDE_PORT}"])
            poll("the configured gRPC address listens", lambda: listening(nns, WIDE_PORT), 15)
            expect(listening(nns, WIDE_PORT) in (["0.0.0.0"], ["*"], ["::"]),
                   f"--grpc 0.0.0.0: listens on {listening(nns, WIDE_PORT)}")
            poll("the warning about a non-loopback API", lambda: "not a loopback address" in wide.output(), 10)
            wide.stop()
            log("configured: --grpc 0.0.0.0 listens on 0.0.0.0 and warns")

            # 2. the MD5 password is written nowhere
            views = [("global",), ("neighbor",), ("neighbor", ROUTER_V4), ("neighbor", ROUTER_V4, "adj-out"),
                     ("global", "rib")]
            outputs = {}
            for v in views:
                outputs["gobgp " + " ".join(v)] = gobgp(nns, *v)
                outputs["gobgp " + " ".join(v) + " -j"] = gobgp(nns, *v, "-j")
            expect("established" in outputs[f"gobgp neighbor {ROUTER_V4}"].lower(),
                   "the MD5-protected session is not Established")
            speaker.reload(config)  # a reload logs the configuration it applies
            poll("the reload applied", lambda: "SIGHUP" in speaker.proc.output() or "reload" in
                 speaker.proc.output().lower(), 10)
            with open(speaker.status_file) as f:
                outputs["status file"] = f.read()
            outputs["speaker log (debug)"] = speaker.proc.output()
            leaks = [where for where, text in outputs.items() if PASSWORD in text or PASSWORD[::-1] in text]
            expect(not leaks, f"the TCP MD5 password appears in: {', '.join(leaks)}")
            expect(len(outputs) >= 12, "too few outputs checked")
            log(f"password in none of {len(outputs)} outputs ({sum(len(t) for t in outputs.values())} octets)")
            ok = True
        finally:
            if not ok:
                log_tail(speaker, 60)
        log("PASS: gRPC on loopback by default; the MD5 password leaks nowhere")


if __name__ == "__main__":
    L.run_main(main)
