#!/usr/bin/env bash
# Second command of the README (and exactly what CI runs): installs dependencies, builds,
# runs the default test suite, a sanitizer (ASan+UBSan) run of the library tests, and the
# fuzz targets for a bounded time. Slow multi-rank tests carry the label "slow" and run
# with FLOTILLA_SLOW_TESTS=1.
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

echo "== Sanitizer build (ASan+UBSan) of the library tests"
FLOTILLA_TARGETS="test_datasets test_partition test_core" bash scripts/build.sh "$root/build-sanitize" Sanitize >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$root/build-sanitize" --output-on-failure -j "$jobs" -L unit

if [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "== CUDA/NCCL path compiles (FLOTILLA_CUDA=ON; no GPU needed)"
  FLOTILLA_TARGETS="flotilla_comm" bash scripts/build.sh "$root/build-cuda" Release -DFLOTILLA_CUDA=ON -DFLOTILLA_BUILD_TESTS=OFF >/dev/null
  echo "ok"
fi

echo "== Fuzz targets (bounded time each)"
bash scripts/fuzz.sh "${FLOTILLA_FUZZ_SECONDS:-20}"

echo "== All tests passed in $(( $(date +%s) - start )) s"
