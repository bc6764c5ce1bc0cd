#!/usr/bin/env bash
# Runs each benchmark executable given, one after another (never in parallel:
# they would measure each other). Called by `ninja -C <build> bench`.
set -euo pipefail
buildtype=$(meson introspect --buildoptions "${MESON_BUILD_ROOT:-.}" 2>/dev/null \
  | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' 2>/dev/null || echo unknown)
if [ "$buildtype" != release ]; then
  echo "bench: note: this build is '$buildtype'; figures in BENCHMARKS.md come from --buildtype=release"
fi
for exe in "$@"; do
  echo "== $(basename "$exe")"
  "$exe"
done
