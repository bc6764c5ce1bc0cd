# A scripted BGP speaker for adversarial tests (tests/interop/hostile.py):
# builds well-formed and deliberately broken messages byte by byte (RFC 4271
# §4, RFC 4760, RFC 6793) and reads what the other side answers. Nothing
# here validates: it writes exactly what the test asks for.
import ctypes
import os
import select
import socket
import struct
import time

MARKER = b"\xff" * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5
TYPE_NAMES = {OPEN: "OPEN", UPDATE: "UPDATE", NOTIFICATION: "NOTIFICATION", KEEPALIVE: "KEEPALIVE",
              ROUTE_REFRESH: "ROUTE-REFRESH"}

# Attribute flags (RFC 4271 §4.3).
OPTIONAL, TRANSITIVE, PARTIAL, EXTENDED = 0x80, 0x40, 0x20, 0x10
WELL_KNOWN = TRANSITIVE
ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR, COMMUNITIES = 1, 2, 3, 4, 5, 6, 7, 8
MP_REACH, MP_UNREACH, EXT_COMMUNITIES, AS4_PATH, LARGE_COMMUNITY = 14, 15, 16, 17, 32
AS_SET, AS_SEQUENCE = 1, 2


def message(mtype, body=b"", marker=MARKER, length=None):
    """A message with header; `length` overrides the Length field."""
    if length is None:
        length = 19 + len(body)
    return marker + struct.pack("!HB", length, mtype) + body


def capability(code, value=b""):
    return struct.pack("!BB", code, len(value)) + value


def cap_mp(afi, safi):
    return capability(1, struct.pack("!HBB", afi, 0, safi))


def cap_as4(asn):
    return capability(65, struct.pack("!I", asn))


def open_msg(asn, hold, bgp_id, caps=None, version=4, params=None, my_as=None):
    """OPEN (RFC 4271 §4.2). caps: list of capability TLVs put in one
    optional parameter of type 2 (RFC 5492); params: raw optional parameters
    instead. my_as defaults to asn, or AS_TRANS when asn needs four octets."""
    if caps is None:
        caps = [cap_mp(1, 1), cap_as4(asn)]
    if params is None:
        cap_bytes = b"".join(caps)
        params = struct.pack("!BB", 2, len(cap_bytes)) + cap_bytes if caps else b""
    if my_as is None:
        my_as = asn if asn < 65536 else 23456
    body = struct.pack("!BHH", version, my_as, hold) + socket.inet_aton(bgp_id) + struct.pack("!B", len(params)) + params
    return message(OPEN, body)


def keepalive():
    return message(KEEPALIVE)


def attr(flags, code, value):
    if len(value) > 255:
        flags |= EXTENDED
    if flags & EXTENDED:
        return struct.pack("!BBH", flags, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def prefix4(text):
    addr, length = text.split("/")
    length = int(length)
    raw = socket.inet_aton(addr)[: (length + 7) // 8]
    return struct.pack("!B", length) + raw


def prefix6(text):
    addr, length = text.split("/")
    length = int(length)
    raw = socket.inet_pton(socket.AF_INET6, addr)[: (length + 7) // 8]
    return struct.pack("!B", length) + raw


def as_path(asns, seg_type=AS_SEQUENCE, four=True):
    fmt = "!I" if four else "!H"
    return struct.pack("!BB", seg_type, len(asns)) + b"".join(struct.pack(fmt, a) for a in asns)


def origin(value=0):
    return attr(WELL_KNOWN, ORIGIN, bytes([value]))


def next_hop(addr):
    return attr(WELL_KNOWN, NEXT_HOP, socket.inet_aton(addr))


def path(asns, four=True):
    return attr(WELL_KNOWN, AS_PATH, as_path(asns, four=four))


def update(withdrawn=b"", attrs=b"", nlri=b"", withdrawn_len=None, attrs_len=None):
    """UPDATE (RFC 4271 §4.3); the two length fields may lie."""
    wl = len(withdrawn) if withdrawn_len is None else withdrawn_len
    al = len(attrs) if attrs_len is None else attrs_len
    return message(UPDATE, struct.pack("!H", wl) + withdrawn + struct.pack("!H", al) + attrs + nlri)


def mp_reach_v6(next_hop6, prefixes):
    value = struct.pack("!HBB", 2, 1, 16) + socket.inet_pton(socket.AF_INET6, next_hop6) + b"\x00"
    value += b"".join(prefix6(p) for p in prefixes)
    return attr(OPTIONAL, MP_REACH, value)


# --------------------------------------------------------------- namespaces
_libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLONE_NEWNET = 0x40000000


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def socket_in(ns, family=socket.AF_INET):
    """A TCP socket created inside network namespace ns (it stays there);
    this thread's namespace is restored before returning."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            return socket.socket(family, socket.SOCK_STREAM)
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


class Conn:
    """One TCP connection to the speaker under test, from a chosen source."""

    def __init__(self, ns, source, dest, port=179, rcvbuf=None, timeout=5.0):
        self.sock = socket_in(ns)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((dest, port))
        self.buf = b""
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def trickle(self, data, interval):
        """Sends one octet every `interval` seconds."""
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])
            time.sleep(interval)

    def recv_message(self, timeout=10.0):
        """Next message as (type, body), or None on EOF; raises TimeoutError."""
        end = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 19:
                length = struct.unpack("!H", self.buf[16:18])[0]
                if length >= 19 and len(self.buf) >= length:
                    m, self.buf = self.buf[:length], self.buf[length:]
                    return m[18], m[19:]
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete message in time")
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            try:
                chunk = self.sock.recv(1 << 16)
            except (ConnectionResetError, TimeoutError):
                chunk = b""
            if not chunk:
                self.closed = True
                return None
            self.buf += chunk

    def wait_notification(self, timeout=10.0):
        """Reads until a NOTIFICATION: (code, subcode, data), or None at EOF."""
        while True:
            m = self.recv_message(timeout)
            if m is None:
                return None
            if m[0] == NOTIFICATION:
                body = m[1]
                return body[0], body[1], body[2:]

    def no_notification_for(self, seconds):
        """True if no NOTIFICATION and no EOF arrive within `seconds`."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            try:
                m = self.recv_message(left)
            except TimeoutError:
                return True
            if m is None or m[0] == NOTIFICATION:
                return False

    def eof_within(self, seconds):
        """True if the other side closes (possibly after a NOTIFICATION) in time."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                m = self.recv_message(end - time.monotonic())
            except TimeoutError:
                return False
            if m is None:
                return True
        return False

    def establish(self, asn, bgp_id, hold=90, caps=None):
        """OPEN / KEEPALIVE exchange; returns the speaker's OPEN body."""
        self.send(open_msg(asn, hold, bgp_id, caps))
        their_open = None
        while True:
            m = self.recv_message()
            if m is None:
                raise AssertionError("connection closed during the OPEN exchange")
            if m[0] == NOTIFICATION:
                raise AssertionError(f"NOTIFICATION {m[1][0]}/{m[1][1]} during the OPEN exchange")
            if m[0] == OPEN:
                their_open = m[1]
            if m[0] == KEEPALIVE and their_open is not None:
                break
        self.send(keepalive())
        return their_open

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
