#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
# FLOTILLA_FUZZ_BUILD=DIR builds in DIR instead of build-fuzz/; FLOTILLA_FUZZ_TARGETS="shard npy"
# runs only those targets.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-20}"
build="${FLOTILLA_FUZZ_BUILD:-$root/build-fuzz}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  generator=(); command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFLOTILLA_FUZZ=ON -DFLOTILLA_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target fuzzers --parallel "${FLOTILLA_JOBS:-$(nproc)}"
status=0
for bin in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  if [ -n "${FLOTILLA_FUZZ_TARGETS:-}" ] && [[ " $FLOTILLA_FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
  corpus_seed="$root/tests/fuzz/corpus/$name"
  work="$build/corpus/$name"; mkdir -p "$work" "$build/crashes"
  echo "-- fuzz_$name for ${secs}s"
  # Leak checking is off here: LeakSanitizer cannot list threads in some sandboxes
  # (/proc/PID/task unreadable) and aborts at exit; the ASan test run covers leaks.
  if ! ASAN_OPTIONS=detect_leaks=0 "$bin" -detect_leaks=0 -max_total_time="$secs" -rss_limit_mb=2048 -max_len=4096 -timeout=10 \
       -artifact_prefix="$build/crashes/$name-" -print_final_stats=1 "$work" "$corpus_seed" \
       >"$build/fuzz_$name.log" 2>&1; then
    echo "fuzz_$name FAILED; last lines of $build/fuzz_$name.log:"; tail -40 "$build/fuzz_$name.log"; status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$build/fuzz_$name.log" | tail -2 || true
  fi
done
exit $status
