# Speaker drivers for the interop suite: the speaker under test, driven
# through the standalone contract of docs/standalone.md.
#   HeraldSpeaker  herald-speaker itself: writes the JSON config, starts the
#                  binary, SIGHUP / SIGTERM / SIGKILL / SIGSTOP, reads the
#                  --status-file.
#   GobgpSpeaker   the same interface with gobgpd as a stand-in, so that the
#                  harness is proven before herald-speaker exists. It maps the
#                  JSON config onto gobgpd's TOML plus `gobgp global rib add`,
#                  and emulates graceful shutdown (RFC 8326) from outside.
# Both take the config as the dict that docs/standalone.md describes.
# HERALD_INTEROP_SPEAKER=herald|gobgp picks one (make_speaker).
import glob
import json
import os
import signal
import time

from lab import log, poll, run, skip
from peers import free_api_port, gobgp_state


def herald_binary():
    """herald-speaker from HERALD_SPEAKER_BIN, HERALD_BUILD_DIR or meson's
    build dir (HERALD_MESON_BUILD_DIR, set by tests/interop/meson.build);
    None when it is not built yet."""
    explicit = os.environ.get("HERALD_SPEAKER_BIN")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = [os.environ.get("HERALD_BUILD_DIR"), os.environ.get("HERALD_MESON_BUILD_DIR"),
            os.path.join(here, "..", "..", "build")]
    for d in filter(None, dirs):
        for cand in ["herald-speaker", "proto/herald-speaker", "agent/herald-speaker"]:
            p = os.path.join(d, cand)
            if os.access(p, os.X_OK):
                return os.path.abspath(p)
        found = [p for p in glob.glob(os.path.join(d, "**", "herald-speaker"), recursive=True)
                 if os.access(p, os.X_OK) and os.path.isfile(p)]
        if found:
            return os.path.abspath(found[0])
    return None


def speaker_kind():
    kind = os.environ.get("HERALD_INTEROP_SPEAKER", "herald")
    if kind not in ("herald", "gobgp"):
        raise SystemExit(f"HERALD_INTEROP_SPEAKER={kind}: expected herald or gobgp")
    return kind


def require_speaker():
    """Skips (77; 1 under CI=true) when the herald binary is not built."""
    if speaker_kind() == "herald" and not herald_binary():
        skip("herald-speaker is not built yet (set HERALD_BUILD_DIR or HERALD_SPEAKER_BIN, "
             "or run with HERALD_INTEROP_SPEAKER=gobgp to exercise the harness)")


def make_speaker(lab, ns, name, config):
    cls = HeraldSpeaker if speaker_kind() == "herald" else GobgpSpeaker
    return cls(lab, ns, name, config)


class Speaker:
    # What this speaker can show; scenarios check only what it supports and
    # say so (docs/interop.md lists the gaps of the stand-in).
    features = set()

    def __init__(self, lab, ns, name, config):
        self.lab, self.ns, self.name = lab, ns, name
        self.config = json.loads(json.dumps(config))
        self.proc = None
        self.dir = lab.path(name)
        os.makedirs(self.dir, exist_ok=True)

    def established(self, addr):
        return self.state(addr) == "established"

    def freeze(self):
        self.proc.send(signal.SIGSTOP)

    def thaw(self):
        self.proc.send(signal.SIGCONT)

    def alive(self):
        return self.proc is not None and self.proc.alive()


class HeraldSpeaker(Speaker):
    kind = "herald"
    features = {"ext_communities", "status_file", "graceful_shutdown", "graceful_restart",
                "last_error"}

    def _write(self):
        tmp = f"{self.dir}/speaker.json.tmp"
        with open(tmp, "w") as f:
            json.dump(self.config, f, indent=2)
        os.replace(tmp, f"{self.dir}/speaker.json")

    def start(self):
        self._write()
        self.status_file = f"{self.dir}/status.json"
        try:
            os.unlink(self.status_file)
        except FileNotFoundError:
            pass
        self.proc = self.lab.start(self.name, self.ns, [
            herald_binary(), "--config", f"{self.dir}/speaker.json",
            "--status-file", self.status_file, "--log-level", "debug"],
            hostname=self.config.get("hostname"))

    def reload(self, config):
        self.config = json.loads(json.dumps(config))
        self._write()
        self.proc.send(signal.SIGHUP)

    def restart_after_kill(self):
        self.start()

    def stop(self, timeout=15):
        """SIGTERM: graceful shutdown when configured (docs/standalone.md)."""
        return self.proc.stop(signal.SIGTERM, timeout)

    def kill(self):
        self.proc.stop(signal.SIGKILL)

    def status(self):
        try:
            with open(self.status_file) as f:
                return {p["address"]: p for p in json.load(f).get("peers", [])}
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def state(self, addr):
        return self.status().get(addr, {}).get("state", "unknown")

    def last_error(self, addr):
        return self.status().get(addr, {}).get("last_error", "")


class GobgpSpeaker(Speaker):
    """gobgpd standing in for herald-speaker. Routes are loaded before any
    neighbor exists (start without neighbors, add routes, then SIGHUP a config
    with them), so that the initial UPDATEs and End-of-RIB come in the same
    order as Herald's."""
    kind = "gobgp"
    features = {"graceful_shutdown", "graceful_restart"}

    def _toml(self, with_neighbors):
        c = self.config
        lines = ["[global.config]", f"  as = {c['local_asn']}",
                 f'  router-id = "{c["router_id"]}"']
        listen = c.get("listen")
        lines.append(f"  port = {listen.get('port', 179) if listen else -1}")
        lines.append("")
        gr = c.get("graceful_restart", {})
        for p in (c.get("peers", []) if with_neighbors else []):
            lines += ["[[neighbors]]", "  [neighbors.config]",
                      f'    neighbor-address = "{p["address"]}"', f"    peer-as = {p['asn']}"]
            if p.get("local_asn"):
                lines.append(f"    local-as = {p['local_asn']}")
            if p.get("password"):
                lines.append(f'    auth-password = "{p["password"]}"')
            hold = p.get("hold_time", 90)
            lines += ["  [neighbors.timers.config]", f"    hold-time = {hold}",
                      f"    keepalive-interval = {p.get('keepalive', max(1, hold // 3))}",
                      f"    connect-retry = {p.get('connect_retry', 5)}"]
            lines += ["  [neighbors.transport.config]", f"    passive-mode = {str(p.get('passive', False)).lower()}"]
            if p.get("port"):
                lines.append(f"    remote-port = {p['port']}")
            if p.get("source_address"):
                lines.append(f'    local-address = "{p["source_address"]}"')
            if p.get("ebgp_multihop", 1) > 1:
                lines += ["  [neighbors.ebgp-multihop.config]", "    enabled = true",
                          f"    multihop-ttl = {p['ebgp_multihop']}"]
            if p.get("ttl_security"):
                lines += ["  [neighbors.ttl-security.config]", "    enabled = true",
                          f"    ttl-min = {256 - p.get('ebgp_multihop', 1)}"]
            if gr.get("enabled"):
                lines += ["  [neighbors.graceful-restart.config]", "    enabled = true",
                          f"    restart-time = {gr.get('restart_time', 120)}"]
            for fam in self._families(p):
                lines += ["  [[neighbors.afi-safis]]", "    [neighbors.afi-safis.config]",
                          f'      afi-safi-name = "{fam}"']
                if gr.get("enabled"):
                    lines += ["    [neighbors.afi-safis.mp-graceful-restart.config]",
                              "      enabled = true"]
            lines.append("")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _families(p):
        if "families" in p:
            return p["families"]
        fams = ["ipv6-unicast" if ":" in p["address"] else "ipv4-unicast"]
        other = "next_hop_v4" if ":" in p["address"] else "next_hop_v6"
        if p.get(other):
            fams.append("ipv4-unicast" if other == "next_hop_v4" else "ipv6-unicast")
        return fams

    def _write(self, with_neighbors):
        tmp = f"{self.dir}/gobgpd.toml.tmp"
        with open(tmp, "w") as f:
            f.write(self._toml(with_neighbors))
        os.replace(tmp, f"{self.dir}/gobgpd.toml")

    def gobgp(self, *args, check=True):
        return run("gobgp", "-p", str(self.port), *args, ns=self.ns, check=check)

    def start(self, restarting=False):
        self._write(with_neighbors=False)
        self.port = free_api_port()
        argv = ["gobgpd", "-f", f"{self.dir}/gobgpd.toml", "-p", "--api-hosts",
                f"127.0.0.1:{self.port}", "--pprof-disable"]
        if restarting:
            argv.append("-r")  # RFC 4724 restarting speaker: R bit in the OPEN
        self.proc = self.lab.start(self.name, self.ns, argv, hostname=self.config.get("hostname"))
        poll(f"{self.name} API", lambda: "AS:" in self.gobgp("global", check=False), 15)
        self.announced = {}
        self._sync_routes(self.config.get("routes", []))
        self._write(with_neighbors=True)
        self.proc.send(signal.SIGHUP)

    def _route_args(self, r, shutdown=False):
        peer = self.config["peers"][0]
        v6 = ":" in r["prefix"]
        nh = peer.get("next_hop_v6" if v6 else "next_hop_v4") or peer.get("source_address")
        args = ["global", "rib", "add", "-a", "ipv6" if v6 else "ipv4", r["prefix"],
                "origin", "igp"]
        if nh:
            args += ["nexthop", nh]
        if "med" in r:
            args += ["med", str(r["med"])]
        lp = 0 if shutdown else r.get("local_pref")
        if lp is not None:
            args += ["local-pref", str(lp)]
        comms = [c.lower().replace("_", "-") for c in r.get("communities", [])]
        if shutdown:
            comms.append("65535:0")
        if comms:
            args += ["community", ",".join(comms)]
        if r.get("large_communities"):
            args += ["large-community", ",".join(r["large_communities"])]
        # Extended communities are left out: gobgp 3.10's CLI cannot parse
        # link bandwidth (its "lb" parser checks for 2 arguments, reads 3).
        return args

    def _sync_routes(self, routes, shutdown=False):
        want = {r["prefix"]: r for r in routes}
        for prefix in list(self.announced):
            if prefix not in want:
                self.gobgp("global", "rib", "del", "-a", "ipv6" if ":" in prefix else "ipv4", prefix)
                del self.announced[prefix]
        for prefix, r in want.items():
            args = self._route_args(r, shutdown)
            if self.announced.get(prefix) != args:
                self.gobgp(*args)
                self.announced[prefix] = args

    def reload(self, config):
        self.config = json.loads(json.dumps(config))
        self._sync_routes(self.config.get("routes", []))
        self._write(with_neighbors=True)
        self.proc.send(signal.SIGHUP)

    def stop(self, timeout=15):
        """Graceful shutdown emulated from outside when configured: every route
        again with 65535:0 (LOCAL_PREF 0), drain, withdraw, Cease."""
        gs = self.config.get("graceful_shutdown")
        if gs and self.alive():
            self._sync_routes(self.config.get("routes", []), shutdown=True)
            time.sleep(gs.get("drain_seconds", 5))  # the drain period itself, not a wait for state
            self._sync_routes([])
            for p in self.config.get("peers", []):
                self.gobgp("neighbor", p["address"], "shutdown", "--reason", "graceful shutdown",
                           check=False)
        return self.proc.stop(signal.SIGTERM, timeout)

    def kill(self):
        self.proc.stop(signal.SIGKILL)

    def restart_after_kill(self):
        self.start(restarting=True)

    def state(self, addr):
        out = self.gobgp("neighbor", addr, "-j", check=False)
        if not out.strip().startswith("{"):
            return "unknown"
        return gobgp_state(json.loads(out).get("state", {}).get("session_state", 0))

    def last_error(self, addr):
        return ""


def log_tail(speaker, n=30):
    text = speaker.proc.output() if speaker.proc else ""
    lines = text.strip().split("\n")[-n:]
    log(f"--- last lines of {speaker.name} ---\n" + "\n".join(lines))
