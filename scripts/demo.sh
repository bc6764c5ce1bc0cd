#!/usr/bin/env bash
# The README's first command: builds Herald and shows it working as it runs in
# a cluster, without a cluster. In network namespaces it creates: a router
# (BIRD; `--router frr` for FRR), three nodes each running herald-agent, a
# client; beside the router the API-server emulator and herald-allocator. It
# applies manifests/examples/ with kubectl, then shows the Services' addresses,
# the router's ECMP route, the gobgp CLI against an agent, 300 requests spread
# over the nodes, and a node failure shrinking the route to two next hops.
# Cleans up after itself (also on Ctrl-C), or with --keep leaves the lab
# running and prints how to explore it. The script is tests/e2e/demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "demo.sh: run as root (it installs packages and creates network namespaces)" >&2
  exit 1
fi
bash scripts/setup.sh
if [ ! -f build-demo/build.ninja ]; then meson setup build-demo --buildtype=release >/dev/null; fi
echo "demo.sh: building herald-agent, herald-allocator and the API-server emulator (build-demo/)"
ninja -C build-demo agent/herald-agent allocator/herald-allocator tests/emulator/herald-kube-emulator >/dev/null
HERALD_BUILD_DIR="$PWD/build-demo" exec python3 tests/e2e/demo.py "$@"
