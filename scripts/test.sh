#!/usr/bin/env bash
# The whole test suite, as CI runs it (README quick start, second command).
# Installs what it needs (scripts/setup.sh), then:
#   1. build-test: g++, -Dsanitize=address,undefined, warnings as errors;
#      every suite (unit, interop, ...) under `meson test`;
#   2. build-fuzz: clang + libFuzzer; only the fuzz targets, each run for
#      FUZZ_SECONDS (default 30: 7 targets, 3.5 minutes) from its seed corpus;
#   3. build-tsan: g++, -Dsanitize=thread; only the multi-threaded parts (the
#      gRPC server: its unit test and herald-speaker for the `grpc` suite,
#      which drives the stock gobgp CLI against it).
# Ends with "N passed, N failed, N skipped" alone on a line, counting meson
# tests of all three builds, each failed test named (and the end of its
# output) above it.
# Under CI=true, a skipped interop or end-to-end suite counts as a failure
# (the suites themselves exit 1 instead of 77).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup.sh || { echo "test.sh: setup failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-30}
status=0

configure() {  # dir, then meson options
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

# -g1 (line tables only) in the sanitizer builds: reports keep file:line
# frames, and the builds skip most of the debug information, a large share
# of compile and link time for Asio/Beast code in CI's 90 minutes.
echo "== build-test (g++, address+undefined sanitizers, -Werror)"
if configure build-test -Dsanitize=address,undefined -Dwerror=true -Dbuildtype=debugoptimized -Dcpp_args=-g1 \
   && ninja -C build-test -j "$jobs"; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    meson test -C build-test --no-rebuild --print-errorlogs --num-processes "$jobs" || status=1
else
  echo "test.sh: build-test failed to build"; status=1
fi

echo "== build-fuzz (clang, libFuzzer, ${fuzz_seconds}s per target)"
# Only the fuzz targets are built here: clang 14 cannot compile our Asio
# coroutine code with -fsanitize=undefined ("Cannot represent a difference
# across sections"), and the fuzz targets need none of it.
fuzz_targets() {
  meson introspect build-fuzz --targets | python3 -c '
import json, sys
print(" ".join(t["filename"][0].split("build-fuzz/", 1)[1] for t in json.load(sys.stdin)
               if t["type"] == "executable" and t["name"].startswith("fuzz-")))'
}
if CXX=clang++ configure build-fuzz -Dfuzz=true -Dfuzz_seconds="$fuzz_seconds" -Dbuildtype=debugoptimized \
   && ninja -C build-fuzz -j "$jobs" $(fuzz_targets); then
  meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs || status=1
else
  echo "test.sh: build-fuzz failed to build"; status=1
fi

echo "== build-tsan (g++, thread sanitizer: gRPC server, suite grpc)"
# gRPC runs its own threads and reaches the speaker only through asio::post
# (DESIGN.md, Threading); this build checks that. A report fails the run
# (halt_on_error). No suppressions; one option: Debian's libgrpc, abseil and
# protobuf are not built with TSan, so it cannot see their own locks (absl
# Mutex, futexes) and reports races inside them (google/sanitizers#490,
# #953); ignore_noninstrumented_modules=1 ignores accesses made by those
# libraries only; every access from our code is still checked.
if configure build-tsan -Dsanitize=thread -Dbuildtype=debugoptimized -Dcpp_args=-g1 \
   && ninja -C build-tsan -j "$jobs" tests/proto-test proto/herald-speaker; then
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1" \
    meson test -C build-tsan --no-rebuild --suite grpc --print-errorlogs || status=1
else
  echo "test.sh: build-tsan failed to build"; status=1
fi

python3 - "$root/build-test" "$root/build-fuzz" "$root/build-tsan" <<'PY' || status=1
# Sums meson's per-test results from each build's testlog.json, and names
# each failure just above the sum, with the end of its output for the first
# few: a CI log is often read from its tail only.
import json, os, sys
passed = failed = skipped = 0
shown = 0
for d in sys.argv[1:]:
    build = os.path.basename(d)
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        failed += 1  # the build never got to run its tests
        print(f"test.sh: FAILED {build}: no test ran (see its build above)")
        continue
    for line in open(log):
        test = json.loads(line)
        r = test.get("result")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else:
            failed += 1
            print(f"test.sh: FAILED {build}: {test.get('name')} ({r}, "
                  f"{test.get('duration', 0):.0f} s)")
            if shown < 2:
                shown += 1
                output = ((test.get("stdout") or "") + "\n" + (test.get("stderr") or "")).splitlines()
                for line in output[-30:]:
                    print(f"    | {line[:300]}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
exit $status
