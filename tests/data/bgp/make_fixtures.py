#!/usr/bin/env python3
"""Turn one capture into fixtures: captures/<prefix>-<what>.hex + .json.

The message bytes come from split_bgp.py (TCP payload + BGP framing only).
The expected decoding (.json) comes from tshark's BGP dissector (-T pdml, the
same tree that `tshark -V` prints), never from our own parsing. Both are tied
together: tshark must see the same number of messages, and every decoded field
tshark reports (its raw bytes and position) must equal the bytes at that
position of the message we split, or this script fails.
"""
import argparse
import datetime
import glob
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ next to the fixtures
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import split_bgp  # noqa: E402

AFI = {1: "ipv4", 2: "ipv6"}
SAFI = {1: "unicast", 2: "multicast", 4: "labeled-unicast", 128: "vpn"}
ORIGIN = {0: "igp", 1: "egp", 2: "incomplete"}
TYPE = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}
# Capability codes the JSON schema has a key for; anything else is "unknown".
KNOWN_CAPS = {1, 2, 5, 6, 64, 65, 69, 70, 73}


def family(afi, safi):
    return f"{AFI.get(afi, 'afi%d' % afi)}-{SAFI.get(safi, 'safi%d' % safi)}"


def fields(elem, name):
    return [f for f in elem.iter("field") if f.get("name") == name]


def one(elem, name):
    fs = fields(elem, name)
    return fs[0] if fs else None


def ival(f):
    return int(f.get("show"), 0)


def children(elem, name):
    return [f for f in elem if f.get("name") == name]


def check_bytes(proto, msg, idx):
    """Every tshark field with full raw bytes must match our split message."""
    marker = one(proto, "bgp.marker")
    base = int(marker.get("pos"))
    checked = 0
    for f in proto.iter("field"):
        size, pos, value = f.get("size"), f.get("pos"), f.get("value")
        if not size or not pos or not value or len(value) != 2 * int(size):
            continue
        off = int(pos) - base
        got = msg[off:off + int(size)].hex()
        if got != value.lower():
            raise SystemExit(f"make_fixtures: message {idx}: tshark field {f.get('name')} = {value} "
                             f"but split bytes at {off} are {got}")
        checked += 1
    length = ival(one(proto, "bgp.length"))
    if length != len(msg) or checked < 3:
        raise SystemExit(f"make_fixtures: message {idx}: tshark length {length}, split length {len(msg)}")


def decode_open(p):
    d = {"type": "open",
         "version": ival(one(p, "bgp.open.version")),
         "my_as": ival(one(p, "bgp.open.myas")),
         "hold_time": ival(one(p, "bgp.open.holdtime")),
         "bgp_id": one(p, "bgp.open.identifier").get("show")}
    codes = []
    mp = []
    gr = None
    hostname = None
    four = None
    for c in fields(p, "bgp.cap"):
        code = ival(one(c, "bgp.cap.type"))
        codes.append(code)
        if code == 1:
            mp.append(family(ival(one(c, "bgp.cap.mp.afi")), ival(one(c, "bgp.cap.mp.safi"))))
        elif code == 65:
            four = ival(one(c, "bgp.cap.4as"))
        elif code == 64:
            afis = fields(c, "bgp.cap.gr.afi")
            safis = fields(c, "bgp.cap.gr.safi")
            gr = {"restart_time": ival(one(c, "bgp.cap.gr.timers.restart_time")),
                  "restart_flag": ival(one(c, "bgp.cap.gr.timers.restart_flag")) != 0,
                  "families": [family(ival(a), ival(s)) for a, s in zip(afis, safis)]}
        elif code == 73:
            hostname = one(c, "bgp.cap.orf.fqdn.hostname").get("show")
    if four is not None:
        d["four_octet_as"] = four
    d["multiprotocol"] = mp
    d["route_refresh"] = 2 in codes
    d["enhanced_route_refresh"] = 70 in codes
    if gr is not None:
        d["graceful_restart"] = gr
    d["extended_next_hop"] = 5 in codes
    d["extended_message"] = 6 in codes
    if hostname is not None:
        d["hostname"] = hostname
    d["add_path"] = 69 in codes
    d["unknown_capability_codes"] = [c for c in codes if c not in KNOWN_CAPS]
    return d


def prefixes(container):
    """The "p/len" items tshark lists (unnamed subtree items) under a field."""
    if container is None:
        return []
    return [f.get("show") for f in container if f.get("name") == "" and "/" in (f.get("show") or "")]


def decode_update(p):
    wlen = ival(one(p, "bgp.update.withdrawn_routes.length"))
    alen = ival(one(p, "bgp.update.path_attributes.length"))
    withdrawn = prefixes(one(p, "bgp.update.withdrawn_routes"))
    nlri = prefixes(one(p, "bgp.update.nlri"))
    attrs = fields(p, "bgp.update.path_attribute")
    if wlen == 0 and alen == 0 and not nlri:
        return {"type": "update", "end_of_rib": "ipv4-unicast"}
    if (wlen == 0 and not nlri and len(attrs) == 1
            and ival(one(attrs[0], "bgp.update.path_attribute.type_code")) == 15
            and not prefixes(one(attrs[0], "bgp.update.path_attribute.mp_unreach_nlri"))):
        a = attrs[0]
        return {"type": "update", "end_of_rib": family(
            ival(one(a, "bgp.update.path_attribute.mp_unreach_nlri.afi")),
            ival(one(a, "bgp.update.path_attribute.mp_unreach_nlri.safi")))}
    d = {"type": "update", "withdrawn": withdrawn, "nlri": nlri}
    for a in attrs:
        code = ival(one(a, "bgp.update.path_attribute.type_code"))
        if code == 1:
            d["origin"] = ORIGIN[ival(one(a, "bgp.update.path_attribute.origin"))]
        elif code == 2:
            path = []
            for seg in fields(a, "bgp.update.path_attribute.as_path_segment"):
                if ival(one(seg, "bgp.update.path_attribute.as_path_segment.type")) != 2:
                    raise SystemExit("make_fixtures: AS_PATH segment other than AS_SEQUENCE")
                for asn in seg:
                    if asn.get("name") in ("bgp.update.path_attribute.as_path_segment.as4",
                                           "bgp.update.path_attribute.as_path_segment.as2"):
                        path.append(ival(asn))
            d["as_path"] = path
        elif code == 3:
            d["next_hop"] = one(a, "bgp.update.path_attribute.next_hop").get("show")
        elif code == 4:
            d["med"] = ival(one(a, "bgp.update.path_attribute.multi_exit_disc"))
        elif code == 5:
            d["local_pref"] = ival(one(a, "bgp.update.path_attribute.local_pref"))
        elif code == 8:
            comms = []
            for c in one(a, "bgp.update.path_attribute.communities"):
                n = c.get("name")
                if n == "bgp.update.path_attribute.community":
                    comms.append("%d:%d" % (ival(one(c, "bgp.update.path_attribute.community_as")),
                                            ival(one(c, "bgp.update.path_attribute.community_value"))))
                elif n == "bgp.update.path_attribute.community_wellknown":
                    v = ival(c)
                    comms.append("%d:%d" % (v >> 16, v & 0xFFFF))
            d["communities"] = comms
        elif code == 16:
            d["extended_communities_count"] = len(fields(a, "bgp.update.path_attribute.extended_community"))
        elif code == 32:
            d["large_communities"] = ["%d:%d:%d" % (ival(one(c, "bgp.large_communities.ga")),
                                                    ival(one(c, "bgp.large_communities.ldp1")),
                                                    ival(one(c, "bgp.large_communities.ldp2")))
                                      for c in fields(a, "bgp.large_communities")]
        elif code == 14:
            pre = "bgp.update.path_attribute.mp_reach_nlri"
            nh = one(a, pre + ".next_hop")
            hops = [f.get("show") for f in nh if f.get("name") in
                    (pre + ".next_hop.ipv4", pre + ".next_hop.ipv6", pre + ".next_hop.ipv6.link_local")]
            d["mp_reach"] = {"afi": AFI[ival(one(a, pre + ".afi"))],
                             "next_hops": hops,
                             "nlri": prefixes(one(a, pre))}
            if ival(one(a, pre + ".safi")) != 1:
                raise SystemExit("make_fixtures: MP_REACH for a SAFI other than unicast")
        elif code == 15:
            pre = "bgp.update.path_attribute.mp_unreach_nlri"
            d["mp_unreach"] = {"afi": AFI[ival(one(a, pre + ".afi"))],
                               "withdrawn": prefixes(one(a, pre))}
    return d


def decode(proto):
    t = ival(one(proto, "bgp.type"))
    if t == 1:
        return decode_open(proto)
    if t == 2:
        return decode_update(proto)
    if t == 3:
        minor = next(f for f in proto.iter("field") if f.get("name", "").startswith("bgp.notify.minor"))
        return {"type": "notification", "code": ival(one(proto, "bgp.notify.major_error")), "subcode": ival(minor)}
    if t == 4:
        return {"type": "keepalive"}
    return {"type": TYPE.get(t, "type%d" % t)}


def name_for(d, counts):
    t = d["type"]
    if t == "update":
        if "end_of_rib" in d:
            base = "eor-" + {"ipv4-unicast": "v4", "ipv6-unicast": "v6"}.get(d["end_of_rib"], d["end_of_rib"])
        else:
            fam = d["mp_reach"]["afi"] if "mp_reach" in d else (
                d["mp_unreach"]["afi"] if "mp_unreach" in d else "ipv4")
            kind = "update" if (d["nlri"] or "mp_reach" in d) else "withdraw"
            base = f"{kind}-{fam.replace('ipv', 'v')}"
    else:
        base = t
    counts[base] = counts.get(base, 0) + 1
    if t == "keepalive" and counts[base] > 1:
        return None  # every KEEPALIVE is the same 19 bytes
    return base if counts[base] == 1 else f"{base}-{counts[base]}"


def hexdump(msg):
    lines = [msg[:19].hex(" ")]
    body = msg[19:]
    lines += [body[i:i + 16].hex(" ") for i in range(0, len(body), 16)]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--speaker", required=True)
    ap.add_argument("--router", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--session-note", default="")
    a = ap.parse_args()

    stream, data = split_bgp.speaker_stream(a.pcap, a.speaker, with_stream_id=True)
    msgs = split_bgp.split(data)
    ipf = "ipv6.src" if ":" in a.speaker else "ip.src"
    pdml = subprocess.run(["tshark", "-n", "-r", a.pcap, "-Y",
                           f"{ipf}=={a.speaker} && tcp.stream=={stream} && bgp", "-T", "pdml"],
                          check=True, capture_output=True, text=True).stdout
    protos = [p for pkt in ET.fromstring(pdml) for p in pkt if p.get("name") == "bgp"]
    if len(protos) != len(msgs):
        raise SystemExit(f"make_fixtures: tshark decoded {len(protos)} BGP messages, split found {len(msgs)}")

    version = {
        "bird": lambda: subprocess.run(["bird", "--version"], capture_output=True, text=True).stderr.strip(),
        "frr": lambda: subprocess.run(["/usr/lib/frr/bgpd", "--version"], capture_output=True,
                                      text=True).stdout.splitlines()[0].strip(),
        "gobgp": lambda: subprocess.run(["gobgpd", "--version"], capture_output=True, text=True).stdout.strip(),
    }[a.router]()
    pkg = {"bird": "bird2", "frr": "frr", "gobgp": "gobgpd"}[a.router]
    pkgver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True).stdout
    tsv = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0].rstrip(".")
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")

    os.makedirs(a.out, exist_ok=True)
    stale = re.compile(re.escape(a.prefix) + r"-(open|keepalive|update|withdraw|eor|notification|route-refresh)")
    for f in glob.glob(os.path.join(a.out, a.prefix + "-*")):
        if stale.match(os.path.basename(f)):
            os.remove(f)

    counts = {}
    written = []
    for i, (msg, proto) in enumerate(zip(msgs, protos), 1):
        check_bytes(proto, msg, i)
        d = decode(proto)
        name = name_for(d, counts)
        if name is None:
            continue
        stem = os.path.join(a.out, f"{a.prefix}-{name}")
        with open(stem + ".hex", "w") as f:
            f.write(f"# {version} (Debian {pkg} {pkgver}), captured {today} by tests/data/bgp/capture.sh"
                    f" (session {a.session_note}): tshark on the sink's veth, speaker->sink TCP stream"
                    f" reassembled and split by split_bgp.py\n")
            f.write(f"# message {i} of {len(msgs)} the speaker sent; tshark: {proto.get('showname')}"
                    f" ({len(msg)} bytes); expected decoding in {os.path.basename(stem)}.json ({tsv})\n")
            f.write(hexdump(msg))
        with open(stem + ".json", "w") as f:
            json.dump(d, f, indent=2)
            f.write("\n")
        written.append(os.path.basename(stem))
    print(f"make_fixtures: {a.prefix}: {len(msgs)} messages -> {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
