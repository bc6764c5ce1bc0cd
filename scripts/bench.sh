#!/usr/bin/env bash
# The bench command (issue 11).
#   sudo scripts/bench.sh [--short|--full] [--only NAME,...] [--no-write]
#     every benchmark in sequence, then BENCHMARKS.md's generated sections
#     rewritten (tests/bench/bench_all.py; --short finishes within ten
#     minutes on the 2-core machine). HERALD_BUILD_DIR picks the build,
#     HERALD_SPEAKER_BIN a release herald-speaker.
#   scripts/bench.sh EXE...
#     runs each micro-benchmark executable given, one after another (never in
#     parallel: they would measure each other); `ninja -C <build> bench`.
set -euo pipefail
if [ $# -eq 0 ] || [[ "$1" == --* ]]; then
  here=$(cd "$(dirname "$0")" && pwd)
  exec python3 "$here/../tests/bench/bench_all.py" "$@"
fi
buildtype=$(meson introspect --buildoptions "${MESON_BUILD_ROOT:-.}" 2>/dev/null \
  | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' 2>/dev/null || echo unknown)
if [ "$buildtype" != release ]; then
  echo "bench: note: this build is '$buildtype'; figures in BENCHMARKS.md come from --buildtype=release"
fi
for exe in "$@"; do
  echo "== $(basename "$exe")"
  "$exe"
done
