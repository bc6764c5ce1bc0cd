#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time. Usage: run.sh TARGET SECONDS CORPUS_DIR...
# Seeds come from each corpus dir: binary files as they are, and `.hex`
# fixtures (golden captures) decoded to binary; `.json` files are seeds
# unless they describe a `.hex` capture of the same name. A crash makes this fail; the
# crashing input is copied into tests/data/<proto>/regressions by hand after
# the fix (the unit tests replay every file there).
set -euo pipefail
target=$1; seconds=$2; shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
for dir in "$@"; do
  [ -d "$dir" ] || continue
  for f in "$dir"/*; do
    [ -f "$f" ] || continue
    case "$f" in
      *.hex) grep -v '^#' "$f" | tr -d ' \n\r\t' | xxd -r -p > "$work/corpus/$(basename "$f" .hex).bin" ;;
      *.md|*.txt) ;;
      *.json) [ -f "${f%.json}.hex" ] || cp "$f" "$work/corpus/" ;;  # skip a capture's description
      *) cp "$f" "$work/corpus/" ;;
    esac
  done
done
seeds=$(ls "$work/corpus" | wc -l)
if [ "$seeds" -eq 0 ]; then
  echo "run.sh: no seeds found in $*" >&2
  exit 1
fi
echo "fuzzing $(basename "$target") for ${seconds}s from $seeds seeds"
# libFuzzer's default error exit code is 77, which meson reads as "skipped".
set +e
"$target" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
  -error_exitcode=1 -timeout=10 -rss_limit_mb=2048 "$work/corpus" > "$work/log" 2>&1
status=$?
set -e
tail -n 40 "$work/log"
if ls "$work/artifacts"/* >/dev/null 2>&1; then
  echo "run.sh: crashing inputs:" >&2
  for a in "$work/artifacts"/*; do echo "  $(basename "$a") base64: $(base64 -w0 "$a")" >&2; done
  exit 1
fi
exit "$status"
