#!/usr/bin/env bash
# Installs, idempotently, everything Herald needs to build, test and run the
# demo on Debian 12 (run as root). Daemons that the peer packages enable on
# install (bird, frr, gobgpd, prometheus) are stopped (and disabled under
# systemd): the tests start their own copies inside network namespaces, and
# those of a test or demo running meanwhile are left alone.
set -euo pipefail

packages=(
  g++ clang lld llvm libclang-rt-14-dev meson ninja-build pkg-config git
  libboost1.81-dev nlohmann-json3-dev libnl-3-dev libnl-route-3-dev
  libspdlog-dev catch2 libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev
  protobuf-compiler libssl-dev libyaml-cpp-dev
  python3-yaml python3-jsonschema
  bird2 frr gobgpd tshark prometheus iproute2 iputils-ping procps curl xxd
  umoci
)
daemons=(bird frr gobgpd prometheus)

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: must run as root (it installs Debian packages)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep package post-install scripts from starting daemons on the host.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Whatever got started anyway (an earlier install without policy-rc.d) is
# stopped. Not through the init scripts: they stop a daemon by its name
# (start-stop-daemon --name), which also killed the routers of a test or demo
# running meanwhile in its namespaces (a second checkout's test command
# killed every BIRD of the first's e2e-bad-input). systemd stops its units'
# own processes; without it, only daemonized copies (whose parent is init)
# are stopped: the tests' and the demo's run in the foreground, children of
# their scripts.
system_daemons() {
  ps -eo pid=,ppid=,comm= | awk '$2 == 1 && $3 ~ /^(bird|watchfrr|zebra|bgpd|staticd|mgmtd|bfdd|gobgpd|prometheus)$/ { print $1 }'
}
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for d in "${daemons[@]}"; do systemctl disable --now "$d" >/dev/null 2>&1 || true; done
else
  pids=$(system_daemons)
  if [ -n "$pids" ]; then
    echo "setup.sh: stopping the system's own daemons: $(echo $pids)"
    kill $pids 2>/dev/null || true
  fi
fi
echo "setup.sh: all build and test dependencies present"
