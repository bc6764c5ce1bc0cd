#!/usr/bin/env bash
# The README's first command: builds Herald and shows what works so far.
# Today that is the BGP codec: it decodes the OPENs and UPDATEs that real
# BIRD 2, FRR 8 and GoBGP 3 sent (captured by tests/data/bgp/capture.sh) and
# measures encode/decode rates. The full lab (agents, router, ECMP route in
# network namespaces) replaces this when the node agent lands.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
if [ ! -f build-demo/build.ninja ]; then meson setup build-demo --buildtype=release >/dev/null; fi
ninja -C build-demo bgp/herald-bgp-decode tests/bench-bgp-codec >/dev/null

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
captures=tests/data/bgp/captures
for router in bird frr gobgp; do
  say "What ${router} sent on an eBGP session, decoded by Herald's codec ($captures/${router}-*.hex)"
  ./build-demo/bgp/herald-bgp-decode "$captures/${router}-open.hex" "$captures/${router}-update-v4.hex" \
    "$captures/${router}-update-v6.hex" | grep -v '^==' || true
done
say "Codec speed: 1,000,000 IPv4 /32 and IPv6 /128 sharing one attribute set (one core)"
./build-demo/tests/bench-bgp-codec 1000000 3
