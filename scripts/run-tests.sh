#!/usr/bin/env bash
# Second command of the README (and exactly what CI runs): installs dependencies, builds,
# runs the default test suite, the same suite again on an ASan+UBSan build, and the fuzz
# targets for a bounded time. Slow multi-rank tests carry the label "slow" and run with
# FLOTILLA_SLOW_TESTS=1 (Release build only).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$(date +%s)
bash scripts/install-deps.sh
jobs="${FLOTILLA_JOBS:-$(nproc)}"

echo "== Build (Release)"
bash scripts/build.sh "$root/build" Release

echo "== Default test suite"
label_args=(-LE slow)
[ "${FLOTILLA_SLOW_TESTS:-0}" = 1 ] && label_args=()
ctest --test-dir "$root/build" --output-on-failure -j "$jobs" "${label_args[@]}"

echo "== Sanitizer build (ASan+UBSan, -O1) and the default suite on it"
# Every target: unit tests (LibTorch ones too), flotilla, flotilla-train, test tools, MPI test.
mkdir -p "$root/build-sanitize"
bash scripts/build.sh "$root/build-sanitize" Sanitize >"$root/build-sanitize/build.log" 2>&1 ||
  { tail -60 "$root/build-sanitize/build.log"; exit 1; }
# Runtime options and LeakSanitizer suppressions (third-party only): tests/sanitizers/. ASan
# and LSan reports go to files, so that one from a process whose failure a test expects (or
# whose output it discards) still fails this stage; UBSan reports stay on stderr (GCC's
# runtime ignores log_path for them) and abort the process (exit 134).
reports="$root/build-sanitize/sanitizer-reports"
rm -rf "$reports"
san_status=0
(
  source tests/sanitizers/env.sh "$reports"
  ctest --test-dir "$root/build-sanitize" --output-on-failure -j "$jobs" -LE slow
) || san_status=1
for f in "$reports"/*; do
  [ -e "$f" ] || continue
  echo "-- sanitizer report $f:"; head -80 "$f"; san_status=1
done
if grep -Eq "runtime error:|ERROR: (Address|Leak)Sanitizer|LeakSanitizer has encountered" \
     "$root/build-sanitize/Testing/Temporary/LastTest.log"; then
  echo "-- sanitizer reports in the output of tests (build-sanitize/Testing/Temporary/LastTest.log):"
  grep -E -B2 -A20 "runtime error:|ERROR: (Address|Leak)Sanitizer|LeakSanitizer has encountered" \
    "$root/build-sanitize/Testing/Temporary/LastTest.log" | head -120
  san_status=1
fi
[ "$san_status" = 0 ] || { echo "== Sanitizer run FAILED"; exit 1; }

if [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "== CUDA/NCCL path compiles (FLOTILLA_CUDA=ON; no GPU needed)"
  FLOTILLA_TARGETS="flotilla_comm" bash scripts/build.sh "$root/build-cuda" Release -DFLOTILLA_CUDA=ON -DFLOTILLA_BUILD_TESTS=OFF >/dev/null
  echo "ok"
fi

echo "== Fuzz targets (bounded time each)"
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 bash scripts/fuzz.sh "${FLOTILLA_FUZZ_SECONDS:-20}"

echo "== All tests passed in $(( $(date +%s) - start )) s"
