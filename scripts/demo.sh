#!/usr/bin/env bash
# The README's first command: builds Herald and shows it working. In network
# namespaces it creates: three nodes each running herald-speaker, one router
# (BIRD; `--router frr` for FRR), one client. The nodes announce the same
# service address; the router installs one ECMP route over all three; 300
# client connections spread over the nodes; one node fails and the route
# shrinks to two next hops. Cleans up after itself (also on Ctrl-C), or with
# --keep leaves the lab running and prints how to explore it.
# Until the node agent lands the nodes run the standalone speaker rather than
# herald-agent with Kubernetes (docs/standalone.md).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "demo.sh: run as root (it installs packages and creates network namespaces)" >&2
  exit 1
fi
bash scripts/setup.sh
if [ ! -f build-demo/build.ninja ]; then meson setup build-demo --buildtype=release >/dev/null; fi
ninja -C build-demo proto/herald-speaker bgp/herald-bgp-decode >/dev/null
HERALD_SPEAKER_BIN="$PWD/build-demo/proto/herald-speaker" exec python3 tests/interop/demo.py "$@"
