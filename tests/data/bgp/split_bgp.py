#!/usr/bin/env python3
"""Reassemble the speaker->sink TCP byte stream from a pcap and split it into
BGP messages (16-byte 0xff marker, 2-byte length, 1-byte type).

The bytes come from tshark (`-T fields -e tcp.payload`), not from any BGP
decoder: this file knows only the BGP framing.

    split_bgp.py CAPTURE.pcapng SPEAKER_IP     # one hex message per line
"""
import subprocess
import sys

MARKER = b"\xff" * 16


def speaker_stream(pcap, speaker_ip, with_stream_id=False):
    """Bytes the speaker sent to TCP port 179 on the one BGP connection that
    carried data from it (the last one if, unexpectedly, there were several)."""
    ipf = "ipv6.src" if ":" in speaker_ip else "ip.src"
    out = subprocess.run(
        ["tshark", "-n", "-r", pcap, "-o", "tcp.relative_sequence_numbers:TRUE",
         "-Y", f"{ipf}=={speaker_ip} && tcp.dstport==179 && tcp.len>0",
         "-T", "fields", "-e", "tcp.stream", "-e", "tcp.seq", "-e", "tcp.payload"],
        check=True, capture_output=True, text=True).stdout
    streams = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        stream, seq, payload = line.split("\t")
        streams.setdefault(int(stream), []).append((int(seq), bytes.fromhex(payload.replace(":", ""))))
    if not streams:
        raise SystemExit(f"split_bgp: no TCP payload from {speaker_ip} to port 179 in {pcap}")
    if len(streams) > 1:
        print(f"split_bgp: warning: {len(streams)} TCP connections, using the last", file=sys.stderr)
    stream_id = max(streams)
    segs = streams[stream_id]
    # Relative seq 1 is the first payload byte; place every segment at its
    # offset so retransmissions and overlaps collapse.
    data = bytearray()
    for seq, payload in sorted(segs):
        off = seq - 1
        if off > len(data):
            raise SystemExit(f"split_bgp: gap in the stream at offset {len(data)} (next segment at {off})")
        end = off + len(payload)
        if end > len(data):
            data[off:] = payload
        elif data[off:end] != payload:
            raise SystemExit(f"split_bgp: retransmitted bytes differ at offset {off}")
    return (stream_id, bytes(data)) if with_stream_id else bytes(data)


def split(data):
    """List of complete BGP messages; a trailing partial message is an error."""
    msgs = []
    i = 0
    while i < len(data):
        if len(data) - i < 19:
            raise SystemExit(f"split_bgp: {len(data) - i} trailing bytes, shorter than a BGP header")
        if data[i:i + 16] != MARKER:
            raise SystemExit(f"split_bgp: no BGP marker at offset {i}")
        ln = int.from_bytes(data[i + 16:i + 18], "big")
        if ln < 19 or ln > 65535:
            raise SystemExit(f"split_bgp: bad length {ln} at offset {i}")
        if i + ln > len(data):
            raise SystemExit(f"split_bgp: message at offset {i} truncated by the end of the capture")
        msgs.append(data[i:i + ln])
        i += ln
    return msgs


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    for m in split(speaker_stream(argv[1], argv[2])):
        print(m.hex())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
