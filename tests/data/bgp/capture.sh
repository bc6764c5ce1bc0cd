#!/usr/bin/env bash
# Reproduces the golden BGP capture fixtures in tests/data/bgp/captures/.
#
# Usage (root, Debian 12 with bird2, frr, gobgpd, tshark, python3):
#   bash tests/data/bgp/capture.sh                 # every session
#   bash tests/data/bgp/capture.sh frr gobgp-tcp6  # only some sessions
# Sessions: bird frr gobgp (IPv4 transport) and bird-tcp6 frr-tcp6 gobgp-tcp6
# (IPv6 transport). KEEP_WORK=1 keeps the scratch directory (pcaps, logs).
#
# For each session it creates two network namespaces (hcap-<random>-...), one
# veth pair between them with documentation addresses only
#   speaker spk0: 192.0.2.1/24 2001:db8::1/64 (MAC 02:00:00:00:00:01)
#   sink    snk0: 192.0.2.2/24 2001:db8::2/64 (MAC 02:00:00:00:00:02)
# runs the router under capture in the speaker namespace (AS 65001, router-id
# 192.0.2.1, eBGP to AS 65000, IPv4 + IPv6 unicast) and bgp_sink.py in the
# sink namespace, and captures TCP port 179 on snk0 with tshark through three
# phases: session set-up with the initial table and End-of-RIB; withdrawal of
# 198.51.100.10/32 and 2001:db8:1::10/128; administrative shutdown (Cease).
# Each phase is awaited by polling the sink's log with a deadline. Then:
#   split_bgp.py      reassembles the speaker->sink stream, splits messages
#   make_fixtures.py  names each message and writes <name>.hex plus <name>.json,
#                     the JSON coming from tshark's own decode of the capture.
# Every process it starts is stopped by pid and every namespace deleted, also
# on failure (trap).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT="$HERE/captures"
CONF="$HERE/configs"
ALL_SESSIONS=(bird frr gobgp bird-tcp6 frr-tcp6 gobgp-tcp6)

if [ "$(id -u)" != 0 ]; then
  echo "capture.sh: must run as root (network namespaces)" >&2
  exit 1
fi
for tool in ip tshark python3 bird birdc gobgpd gobgp unshare /usr/lib/frr/zebra /usr/lib/frr/bgpd; do
  command -v "$tool" >/dev/null || { echo "capture.sh: missing $tool" >&2; exit 1; }
done

SESSIONS=("$@")
[ "${#SESSIONS[@]}" -gt 0 ] || SESSIONS=("${ALL_SESSIONS[@]}")

SUFFIX=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d "/tmp/hcap-$SUFFIX.XXXXXX")
PIDS=()        # every process started, in start order
NAMESPACES=()  # every namespace created

log() { echo "capture.sh: $*" >&2; }

# Stops one pid: TERM, then KILL after a deadline. Only pids we started.
stop_pid() {
  local pid=$1 sig=${2:-TERM} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? i ns pid
  [ "$rc" = 0 ] || log "exit status $rc: cleaning up"
  set +e
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  PIDS=()
  for ns in "${NAMESPACES[@]}"; do
    # Anything still inside one of our namespaces was started by this script.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do stop_pid "$pid" KILL; done
    ip netns del "$ns" 2>/dev/null
  done
  NAMESPACES=()
  if [ "${KEEP_WORK:-0}" = 1 ]; then log "scratch kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls "$@" until it succeeds or the deadline (seconds) passes.
wait_for() {
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$end" ]; then log "timeout waiting for $what"; return 1; fi
    sleep 0.2
  done
}

# Background start inside a namespace, with its own UTS namespace so that a
# router that advertises the host name advertises a fixed one. `ip netns exec`,
# `unshare` (without --fork) and `exec` keep the pid, so $! is the daemon.
start_in() {
  local ns=$1 host=$2 logf=$3; shift 3
  # shellcheck disable=SC2016  # expanded by the inner sh
  ip netns exec "$ns" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$host" "$@" \
    >"$logf" 2>&1 </dev/null &
  PIDS+=($!)
}

# Readiness probes for wait_for.
no_tentative() { ! ip -n "$1" -6 addr show tentative | grep -q inet6; }
bird_routes() { ip netns exec "$1" birdc -s "$2/bird.ctl" show route count | grep -q '^Total: 3 of 3 routes'; }
frr_routes() {
  ip netns exec "$1" vtysh --vty_socket "$2/vty" -d bgpd -c 'show bgp ipv4 unicast' | grep -q '203.0.113.0/24' &&
    ip netns exec "$1" vtysh --vty_socket "$2/vty" -d bgpd -c 'show bgp ipv6 unicast' | grep -q '2001:db8:1::10/128'
}
gobgp_routes() { "$@" global rib -a ipv4 | grep -q 203.0.113.0/24 && "$@" global rib -a ipv6 | grep -q 2001:db8:1::10/128; }
sink_closed() { ! kill -0 "$1" 2>/dev/null || grep -q '"event": "closed"' "$2"; }
fin_captured() { tshark -n -r "$1" -Y "$2 && tcp.flags.fin==1" 2>/dev/null | grep -q .; }

render() { # template out key=value...
  local tpl=$1 out=$2; shift 2
  local args=() kv
  for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${args[@]}" "$tpl" >"$out"
}

setup_link() { # speaker-ns sink-ns
  local s=$1 k=$2 ns
  for ns in "$s" "$k"; do
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
      net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.router_solicitations=0
  done
  ip -n "$s" link add spk0 address 02:00:00:00:00:01 type veth \
    peer name snk0 netns "$k" address 02:00:00:00:00:02
  ip -n "$s" addr add 192.0.2.1/24 dev spk0
  ip -n "$s" addr add 2001:db8::1/64 dev spk0 nodad
  ip -n "$k" addr add 192.0.2.2/24 dev snk0
  ip -n "$k" addr add 2001:db8::2/64 dev snk0 nodad
  ip -n "$s" link set spk0 up
  ip -n "$k" link set snk0 up
  wait_for "IPv6 addresses in $s" 10 no_tentative "$s"
  wait_for "IPv6 addresses in $k" 10 no_tentative "$k"
  wait_for "link to the sink" 10 ip netns exec "$s" ping -c1 -W1 192.0.2.2
  wait_for "IPv6 link to the sink" 10 ip netns exec "$s" ping -6 -c1 -W1 2001:db8::2
}

start_bird() { # ns dir local peer
  local ns=$1 d=$2 lcl=$3 peer=$4 nh4="" nh6=""
  if [[ $lcl == *:* ]]; then nh4="next hop address 192.0.2.1;"; else nh6="next hop address 2001:db8::1;"; fi
  render "$CONF/bird.conf.in" "$d/bird.conf" WORK="$d" LOCAL="$lcl" PEER="$peer" NH4="$nh4" NH6="$nh6"
  start_in "$ns" bird-speaker "$d/bird.out" bird -f -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid"
  wait_for "BIRD routes" 20 bird_routes "$ns" "$d"
}

start_frr() { # ns dir local peer
  local ns=$1 d=$2/frr lcl=$3 peer=$4
  mkdir -p "$d/vty"
  render "$CONF/frr-zebra.conf.in" "$d/zebra.conf" WORK="$d"
  render "$CONF/frr-bgpd.conf.in" "$d/bgpd.conf" WORK="$d" LOCAL="$lcl" PEER="$peer"
  # The daemons drop to the frr user (root is not in the frrvty group), so
  # they get their own directory for logs, pid files and sockets.
  chmod 755 "$WORK"
  chown -R frr:frr "$d"
  start_in "$ns" frr-speaker "$d/zebra.out" /usr/lib/frr/zebra \
    -f "$d/zebra.conf" -i "$d/zebra.pid" -z "$d/zserv.api" --vty_socket "$d/vty" -A 127.0.0.1 -P 0
  wait_for "zebra socket" 20 test -S "$d/zserv.api"
  start_in "$ns" frr-speaker "$d/bgpd.out" /usr/lib/frr/bgpd \
    -f "$d/bgpd.conf" -i "$d/bgpd.pid" -z "$d/zserv.api" --vty_socket "$d/vty" -A 127.0.0.1 -P 0
  wait_for "FRR routes" 30 frr_routes "$ns" "$d"
}

start_gobgp() { # ns dir local peer
  local ns=$1 d=$2 lcl=$3 peer=$4
  local port=$((50100 + RANDOM % 800))
  GOBGP_PORT=$port
  render "$CONF/gobgpd.toml.in" "$d/gobgpd.toml" LOCAL="$lcl" PEER="$peer"
  start_in "$ns" gobgp-speaker "$d/gobgpd.out" gobgpd -f "$d/gobgpd.toml" -p \
    --api-hosts "127.0.0.1:$port" --pprof-disable
  wait_for "gobgpd API" 20 ip netns exec "$ns" gobgp -p "$port" global
  local g=(ip netns exec "$ns" gobgp -p "$port")
  "${g[@]}" global rib add -a ipv4 198.51.100.10/32 nexthop 192.0.2.1 origin igp med 50 \
    community 65001:100,65535:0 large-community 65001:1:2
  "${g[@]}" global rib add -a ipv4 203.0.113.0/24 nexthop 192.0.2.1 origin igp med 50 \
    community 65001:100,65535:0 large-community 65001:1:2
  "${g[@]}" global rib add -a ipv6 2001:db8:1::10/128 nexthop 2001:db8::1 origin igp med 50 \
    community 65001:100,65535:0 large-community 65001:1:2
  wait_for "GoBGP routes" 20 gobgp_routes "${g[@]}"
}

# Phase 2, once the initial table is sent: withdraw the two VIPs
# (198.51.100.10/32 and 2001:db8:1::10/128, keeping 203.0.113.0/24), then shut
# the session down administratively: Cease / Administrative Shutdown with the
# RFC 8203 shutdown communication "herald capture".
withdraw_bird() { # ns dir
  ip netns exec "$1" birdc -s "$2/bird.ctl" disable vip4 >/dev/null
  ip netns exec "$1" birdc -s "$2/bird.ctl" disable vip6 >/dev/null
}
shutdown_bird() { ip netns exec "$1" birdc -s "$2/bird.ctl" disable sink '"herald capture"' >/dev/null; }

frr_conf() { # ns dir peer commands...
  local ns=$1 d=$2/frr; shift 3
  local args=(-c 'configure terminal' -c 'router bgp 65001') c
  for c in "$@"; do args+=(-c "$c"); done
  ip netns exec "$ns" vtysh --vty_socket "$d/vty" -d bgpd "${args[@]}" >/dev/null
}
withdraw_frr() {
  frr_conf "$1" "$2" "$3" 'address-family ipv4 unicast' 'no network 198.51.100.10/32' 'exit-address-family' \
    'address-family ipv6 unicast' 'no network 2001:db8:1::10/128' 'exit-address-family'
}
shutdown_frr() { frr_conf "$1" "$2" "$3" "neighbor $3 shutdown message herald capture"; }

withdraw_gobgp() {
  ip netns exec "$1" gobgp -p "$GOBGP_PORT" global rib del -a ipv4 198.51.100.10/32
  ip netns exec "$1" gobgp -p "$GOBGP_PORT" global rib del -a ipv6 2001:db8:1::10/128
}
shutdown_gobgp() { ip netns exec "$1" gobgp -p "$GOBGP_PORT" neighbor "$3" shutdown --reason "herald capture"; }

run_session() { # name
  local name=$1 router=${1%-tcp6} lcl=192.0.2.1 peer=192.0.2.2
  if [[ $name == *-tcp6 ]]; then lcl=2001:db8::1; peer=2001:db8::2; fi
  local tag=${name//-/}
  local s="hcap-$SUFFIX-$tag-s" k="hcap-$SUFFIX-$tag-k" d="$WORK/$name"
  local npids=${#PIDS[@]}
  mkdir -p "$d"
  log "== $name: $router speaker $lcl -> sink $peer"
  setup_link "$s" "$k"

  start_in "$k" sink "$d/tshark.out" tshark -n -i snk0 -f 'tcp port 179' -w "$d/capture.pcapng"
  local tshark_pid=${PIDS[-1]}
  wait_for "tshark" 30 grep -q "Capturing on" "$d/tshark.out"

  "start_$router" "$s" "$d" "$lcl" "$peer"

  start_in "$k" sink "$d/sink.out" python3 "$HERE/bgp_sink.py" --listen "$peer" --as 65000 --id 192.0.2.2 \
    --log "$d/sink.log" --status "$d/sink.status"
  local sink_pid=${PIDS[-1]}
  wait_for "initial routes and End-of-RIB" 90 grep -qx DONE "$d/sink.status" ||
    { cat "$d/sink.log" >&2 || true; return 1; }
  if grep -q '"notification"' "$d/sink.log"; then log "$name: unexpected NOTIFICATION"; return 1; fi

  "withdraw_$router" "$s" "$d" "$peer"
  wait_for "IPv4 withdrawal" 60 grep -q '"type": "withdraw-ipv4"' "$d/sink.log"
  wait_for "IPv6 withdrawal" 60 grep -q '"type": "withdraw-ipv6"' "$d/sink.log"
  "shutdown_$router" "$s" "$d" "$peer"
  wait_for "Cease NOTIFICATION" 30 grep -q '"event": "notification"' "$d/sink.log"
  wait_for "end of the session" 10 sink_closed "$sink_pid" "$d/sink.log"
  # tshark loses what it has not yet written when stopped: wait until the
  # speaker's FIN is in the file.
  local src=ip.src; [[ $lcl == *:* ]] && src=ipv6.src
  wait_for "the speaker's FIN in the capture" 20 fin_captured "$d/capture.pcapng" "$src==$lcl"

  # Stop the capture first (so the teardown is not in it), then everything else.
  stop_pid "$tshark_pid" INT
  local i
  for ((i = ${#PIDS[@]} - 1; i >= npids; i--)); do stop_pid "${PIDS[$i]}"; done
  PIDS=("${PIDS[@]:0:npids}")
  ip netns del "$s"; ip netns del "$k"
  NAMESPACES=("${NAMESPACES[@]:0:${#NAMESPACES[@]}-2}")

  python3 "$HERE/make_fixtures.py" --pcap "$d/capture.pcapng" --speaker "$lcl" \
    --router "$router" --prefix "$name" --out "$OUT" --session-note "$name"
}

mkdir -p "$OUT"
for name in "${SESSIONS[@]}"; do
  case " ${ALL_SESSIONS[*]} " in *" $name "*) ;; *) log "unknown session $name"; exit 2 ;; esac
  run_session "$name"
done
log "done: fixtures in $OUT"
